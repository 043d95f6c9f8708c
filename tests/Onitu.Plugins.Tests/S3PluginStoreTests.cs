using Onitu.Drivers;

namespace Onitu.Plugins.Tests;

/// <summary>
/// The s3 plugin against a real store: the private Ceph RADOS Gateway of tests/Shared/RadosGateway.cs (about 20 s to
/// start on a loaded 2-core machine), or the bucket ONITU_S3_TEST_BUCKET names; ignored with the reason when neither is there.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class S3PluginStoreTests
{
    private RadosGateway? _store;

    private RadosGateway Store => _store ?? throw new InvalidOperationException("The store did not start.");

    [OneTimeSetUp]
    public async Task StartStoreAsync() => _store = await RadosGateway.StartAsync();

    [OneTimeTearDown]
    public async Task StopStoreAsync()
    {
        if (_store is not null)
            await _store.DisposeAsync();
        _store = null;
    }

    [Test]
    public async Task The_installed_s3_plugin_round_trips_files_through_a_real_store()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, PackagesFixture.S3);
            var prefix = "plugin-" + Guid.NewGuid().ToString("N")[..12] + "/";
            var s3 = S3Service("b", Store, prefix);
            Directory.CreateDirectory(Path.Combine(root, "a", "docs", "sub"));
            var big = new byte[6 * 1024 * 1024 + 5]; // more than one 5 MiB part: a multipart upload
            Random.Shared.NextBytes(big);
            await File.WriteAllBytesAsync(Path.Combine(root, "a", "docs", "sub", "big.bin"), big);
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "hello.txt"), "through the s3 plugin");

            // Up: a -> s3.
            await SyncAsync(root, InstalledDrivers.LocalService("a") + s3, catalog, "up");
            // Down, with another state: s3 -> c; c's copy can only come from the store.
            var down = Directory.CreateDirectory(Path.Combine(root, "down")).FullName;
            Directory.CreateDirectory(Path.Combine(down, "c", "docs"));
            await SyncAsync(down, InstalledDrivers.LocalService("c") + s3, catalog, "down");

            Assert.That(await File.ReadAllTextAsync(Path.Combine(down, "c", "docs", "hello.txt")), Is.EqualTo("through the s3 plugin"));
            Assert.That(await File.ReadAllBytesAsync(Path.Combine(down, "c", "docs", "sub", "big.bin")), Is.EqualTo(big));
            var plugin = plugins.Single(p => p.Id == "s3");
            foreach (var name in new[] { "AWSSDK.Core", "AWSSDK.S3" })
                InstalledDrivers.AssertLoadedInPlugin(plugin, name);
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    private static async Task SyncAsync(string root, string services, DriverCatalog catalog, string what)
    {
        await using var engine = InstalledDrivers.CreateEngine(root, services, catalog);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var report = await engine.SyncOnceAsync(timeout.Token);
        Assert.That(report.Errors, Is.Empty, what + ": " + string.Join(Environment.NewLine, report.Errors));
        Assert.That(report.PendingJobs, Is.Zero, what);
    }

    private static string S3Service(string name, RadosGateway store, string prefix) =>
        $"""
          {name}:
            driver: s3
            options:
        """ + "\n" + string.Concat(store.Options(prefix).Select(o => $"      {o.Key}: \"{o.Value}\"\n")) + """
              part-size: 5242880
            folders: { docs: docs }

        """;
}
