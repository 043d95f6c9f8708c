using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>One sshd (tests/Shared/SshdFixture.cs) for the whole test assembly.</summary>
[SetUpFixture]
public sealed class SshdSetup
{
    private static SshdFixture? _sshd;

    public static SshdFixture Sshd => _sshd ?? throw new InvalidOperationException("sshd is not running.");

    [OneTimeSetUp]
    public async Task StartAsync() => _sshd = await SshdFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_sshd is not null) await _sshd.DisposeAsync();
        _sshd = null;
    }
}

/// <summary>What the driver's own classes need to reach the shared sshd.</summary>
internal static class SshdFixtureConnections
{
    /// <summary>
    /// The ssh driver's options (the manifest's defaults) for a service rooted at <paramref name="root"/> on
    /// <paramref name="sshd"/>, ignoring the user's and the system's ssh configuration; tests set what else they need.
    /// </summary>
    public static Dictionary<string, object?> DriverOptions(this SshdFixture sshd, string root)
    {
        var options = new SshDriverFactory().Manifest.Options.Values.Where(o => o.HasDefault).ToDictionary(o => o.Key, o => o.Default);
        options["host"] = "127.0.0.1";
        options["port"] = (long)sshd.Port;
        options["user"] = sshd.User;
        options["root"] = root;
        options["identity-file"] = sshd.IdentityFile;
        options["known-hosts-file"] = sshd.KnownHostsFile;
        options["ssh-options"] = SshdFixture.IsolatedSshOptions;
        return options;
    }

    /// <summary>Options that connect to <paramref name="sshd"/>, ignoring the user's and the system's ssh configuration.</summary>
    public static SftpConnectionOptions ConnectionOptions(this SshdFixture sshd, string? identityFile = null, string? knownHostsFile = null) => new()
    {
        Host = "127.0.0.1",
        Port = sshd.Port,
        User = sshd.User,
        IdentityFile = identityFile ?? sshd.IdentityFile,
        KnownHostsFile = knownHostsFile ?? sshd.KnownHostsFile,
        KnownHostsPolicy = KnownHostsPolicy.Strict,
        ExtraArguments = SshdFixture.IsolatedClientArguments,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };
}
