using System.Diagnostics;
using System.Text;
using Onitu.Testing;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>Driver behaviour the conformance suite does not cover: connections and remote layout.</summary>
[TestFixture]
[CancelAfter(30_000)]
public class SshDriverTests
{
    private string _root = "";

    [SetUp]
    public void CreateRoot()
    {
        _root = Path.Combine(SshdSetup.Sshd.DataDirectory, "driver-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
    }

    private SshDriver CreateDriver(long connections = 1)
    {
        var sshd = SshdSetup.Sshd;
        var options = new SshDriverFactory().Manifest.Options.Values.Where(o => o.HasDefault).ToDictionary(o => o.Key, o => o.Default);
        options["host"] = "127.0.0.1";
        options["port"] = (long)sshd.Port;
        options["user"] = sshd.User;
        options["root"] = _root;
        options["identity-file"] = sshd.IdentityFile;
        options["known-hosts-file"] = sshd.KnownHostsFile;
        options["ssh-options"] = "-F none -o IdentitiesOnly=yes -o IdentityAgent=none -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR";
        options["connections"] = connections;
        var plug = new ConformancePlug("subject", [new FolderMapping("docs", "docs")], new DriverOptions(options), Path.GetTempPath());
        return (SshDriver)new SshDriverFactory().Create(plug);
    }

    private static async Task UploadAsync(SshDriver driver, string path, string text, CancellationToken cancellationToken)
    {
        var metadata = new Metadata("docs", path);
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(text));
        await driver.UploadFileAsync(metadata, content, cancellationToken);
    }

    [Test]
    public async Task A_lost_connection_fails_one_call_transiently_and_the_next_call_reconnects(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        await UploadAsync(driver, "a.txt", "one", cancellationToken);
        foreach (var id in driver.ConnectionProcessIds) Process.GetProcessById(id).Kill();

        var error = Assert.ThrowsAsync<Sftp.SshConnectionException>(async () => await UploadAsync(driver, "b.txt", "two", cancellationToken));
        Assert.That(error!.IsTransient, Is.True);
        await UploadAsync(driver, "b.txt", "two", cancellationToken);

        Assert.That(File.ReadAllText(Path.Combine(_root, "docs", "b.txt")), Is.EqualTo("two"));
    }

    [Test]
    public async Task Requests_are_spread_over_the_configured_connections_and_temporary_files_are_hidden(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver(connections: 3);
        await driver.ScanAsync(cancellationToken);
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => UploadAsync(driver, $"sub/f{i}.txt", new string('x', i), cancellationToken)));

        Assert.That(driver.ConnectionProcessIds, Has.Count.EqualTo(3));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "docs", "sub")).Select(Path.GetFileName), Has.None.StartsWith(SshDriver.TempPrefix));
        Assert.That(Directory.GetFiles(Path.Combine(_root, "docs", "sub")), Has.Length.EqualTo(12));
    }

    [Test]
    public async Task Own_rewrites_within_one_second_still_change_the_revision(CancellationToken cancellationToken)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(cancellationToken);
        var revisions = new List<string?>();
        var metadata = new Metadata("docs", "same.txt");
        for (var i = 0; i < 3; i++)
        {
            using var content = new MemoryStream("same"u8.ToArray());
            await driver.UploadFileAsync(metadata, content, cancellationToken);
            revisions.Add(metadata.Revision);
        }
        Assert.That(revisions, Is.Unique);
    }
}
