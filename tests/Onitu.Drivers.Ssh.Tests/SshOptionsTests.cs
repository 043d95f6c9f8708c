using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>The manifest and the reading of a service's options.</summary>
[TestFixture]
public class SshOptionsTests
{
    private static DriverOptions Options(params (string Key, object? Value)[] values)
    {
        var all = new SshDriverFactory().Manifest.Options.Values.Where(o => o.HasDefault).ToDictionary(o => o.Key, o => o.Default);
        foreach (var (key, value) in values) all[key] = value;
        return new DriverOptions(all);
    }

    [Test]
    public void The_manifest_declares_the_ssh_driver_and_its_defaults()
    {
        var manifest = new SshDriverFactory().Manifest;
        Assert.That(manifest.Id, Is.EqualTo("ssh"));
        Assert.That(manifest.EntryType, Is.EqualTo(typeof(SshDriverFactory).FullName));
        Assert.That(manifest.Options.Where(o => o.Value.IsMandatory).Select(o => o.Key), Is.EquivalentTo(new[] { "host" }), "user and root default to ssh's choice and the login directory, as docs/ssh.md says");
        Assert.That(manifest.Options["known-hosts-policy"].Values, Is.EqualTo(new[] { "strict", "accept-new" }));
        Assert.That(manifest.Options["port"].Default, Is.EqualTo(22L));
        Assert.That(manifest.Options["request-size"].Default, Is.EqualTo(0L));
    }

    [Test]
    public void Options_become_the_ssh_connection_settings()
    {
        var options = SshOptions.From(Options(("host", "h"), ("user", "u"), ("root", "data"), ("known-hosts-policy", "accept-new"),
            ("ssh-options", "-o 'ProxyJump=a b'  -F none"), ("connections", 3L)));

        Assert.That(options.Connection.Host, Is.EqualTo("h"));
        Assert.That(options.Connection.Port, Is.EqualTo(22));
        Assert.That(options.Connection.KnownHostsPolicy, Is.EqualTo(KnownHostsPolicy.AcceptNew));
        Assert.That(options.Connection.ExtraArguments, Is.EqualTo(new[] { "-o", "ProxyJump=a b", "-F", "none" }));
        Assert.That(options.Connection.IdentityFile, Is.Null);
        Assert.That(options.Root, Is.EqualTo("data"));
        Assert.That(options.PollInterval, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(options.Connections, Is.EqualTo(3));
    }

    [TestCase("port", 0L)]
    [TestCase("port", 70000L)]
    [TestCase("poll-interval-ms", 0L)]
    [TestCase("request-size", 10L)]
    [TestCase("connections", 0L)]
    [TestCase("host", "-oProxyCommand=x")]
    [TestCase("ssh-options", "-o 'unclosed")]
    public void Out_of_range_options_are_a_DriverException(string key, object value) =>
        Assert.That(() => SshOptions.From(Options(("host", "h"), ("user", "u"), ("root", "/"), (key, value))), Throws.InstanceOf<DriverException>());
}
