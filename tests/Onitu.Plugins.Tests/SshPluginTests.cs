namespace Onitu.Plugins.Tests;

/// <summary>The ssh plugin against the real sshd of tests/Shared/SshdFixture.cs, started once for this fixture.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class SshPluginTests
{
    private SshdFixture? _sshd;

    private SshdFixture Sshd => _sshd ?? throw new InvalidOperationException("sshd is not running.");

    [OneTimeSetUp]
    public async Task StartSshdAsync() => _sshd = await SshdFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopSshdAsync()
    {
        if (_sshd is not null)
            await _sshd.DisposeAsync();
        _sshd = null;
    }

    [Test]
    public async Task The_installed_ssh_plugin_syncs_files_both_ways_with_a_real_sshd()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, PackagesFixture.Ssh);
            var ssh = plugins.Single(p => p.Id == "ssh");
            Assert.That(catalog.OriginOf("ssh"), Does.StartWith("plugin "));

            var remote = Directory.CreateDirectory(Path.Combine(Sshd.DataDirectory, "plugin-" + Guid.NewGuid().ToString("N")[..12])).FullName;
            Directory.CreateDirectory(Path.Combine(remote, "docs", "sub"));
            Directory.CreateDirectory(Path.Combine(root, "a", "docs"));
            var big = new byte[3 * 1024 * 1024 + 17];
            Random.Shared.NextBytes(big);
            await File.WriteAllBytesAsync(Path.Combine(root, "a", "docs", "big.bin"), big);
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "local.txt"), "from the local disk");
            await File.WriteAllTextAsync(Path.Combine(remote, "docs", "sub", "remote.txt"), "from the ssh server");

            await using (var engine = InstalledDrivers.CreateEngine(root, InstalledDrivers.LocalService("a") + $"""
                  b:
                    driver: ssh
                    options:
                      host: 127.0.0.1
                      port: {Sshd.Port}
                      user: "{Sshd.User}"
                      root: "{remote}"
                      identity-file: "{Sshd.IdentityFile}"
                      known-hosts-file: "{Sshd.KnownHostsFile}"
                      ssh-options: "{SshdFixture.IsolatedSshOptions}"
                    folders: {"{"} docs: docs {"}"}

                """, catalog))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                var report = await engine.SyncOnceAsync(timeout.Token);
                Assert.That(report.Errors, Is.Empty, string.Join(Environment.NewLine, report.Errors) + Environment.NewLine + Sshd.SshdLog());
                Assert.That(report.PendingJobs, Is.Zero);
            }

            Assert.That(await File.ReadAllBytesAsync(Path.Combine(remote, "docs", "big.bin")), Is.EqualTo(big), "written over SFTP by the plugin");
            Assert.That(await File.ReadAllTextAsync(Path.Combine(remote, "docs", "local.txt")), Is.EqualTo("from the local disk"));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(root, "a", "docs", "sub", "remote.txt")), Is.EqualTo("from the ssh server"),
                "read over SFTP by the plugin");
            InstalledDrivers.AssertLoadedInPlugin(ssh, "Onitu.Drivers.Ssh");
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }
}
