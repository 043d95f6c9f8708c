using System.Globalization;
using Onitu.Testing;

namespace Onitu.Drivers.Ssh.Tests.Conformance;

/// <summary>The SSH driver against the real sshd of <see cref="SshdSetup"/>, through the public conformance fixture.</summary>
[TestFixture]
public class SshConformanceTests : DriverConformanceTests
{
    protected override IDriverFactory CreateFactory() => new SshDriverFactory();

    protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        var root = Path.Combine(sshd.DataDirectory, "conformance-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        return ValueTask.FromResult(new DriverTestArea(
            new Dictionary<string, object?>
            {
                ["host"] = "127.0.0.1",
                ["port"] = (long)sshd.Port,
                ["user"] = sshd.User,
                ["root"] = root,
                ["identity-file"] = sshd.IdentityFile,
                ["known-hosts-file"] = sshd.KnownHostsFile,
                ["ssh-options"] = "-F none -o IdentitiesOnly=yes -o IdentityAgent=none -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR",
                ["poll-interval-ms"] = 100L,
            },
            "docs",
            () =>
            {
                Directory.Delete(root, recursive: true);
                return ValueTask.CompletedTask;
            })
        {
            // The server's files are on this machine: read and changed without SFTP, as another client would.
            View = new DirectoryStoreView(Path.Combine(root, "docs")),
        });
    }
}
