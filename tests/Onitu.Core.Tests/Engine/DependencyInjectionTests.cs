using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

public class DependencyInjectionTests
{
    [Test]
    public async Task AddOnitu_builds_an_engine_that_syncs()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/di.txt", "through the container");
        var services = new ServiceCollection().AddLogging();
        services.AddOnitu(o =>
            {
                o.SetupFile = h.SetupFile;
                o.MaxParallelTransfers = 2;
            })
            .AddDriver<LocalStorageDriverFactory>()
            .AddDriver<LocalStorageDriverFactory>(); // registering twice is harmless

        await using var provider = services.BuildServiceProvider();
        var engine = provider.GetRequiredService<SyncEngine>();
        Assert.That(provider.GetRequiredService<SyncEngine>(), Is.SameAs(engine), "one engine per container");

        var report = await engine.SyncOnceAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(h.Read("B", "docs/di.txt"), Is.EqualTo("through the container"));
        Assert.That(engine.DatabasePath, Is.EqualTo(Path.Combine(h.Root, "setup.state.db")));
    }

    [Test]
    public void Wrong_engine_options_are_reported_together_when_the_engine_is_resolved()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddOnitu(o =>
        {
            o.SetupFile = "unused.yml";
            o.ChunkSize = 10;
            o.MaxParallelTransfers = 0;
            o.RecentEvents = -1;
        }).AddDriver<LocalStorageDriverFactory>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<SyncEngine>())!;
        Assert.That(error.Failures, Has.Some.Contains("ChunkSize").And.Some.Contains("MaxParallelTransfers").And.Some.Contains("RecentEvents"));
    }

    [Test]
    public void An_unknown_driver_is_named_with_the_drivers_available()
    {
        var setup = Onitu.Setup.SetupLoader.Parse("""
            name: x
            folders: { docs: {} }
            services:
              S: { driver: dropbox, folders: { docs: docs } }
            """);
        var error = Assert.Throws<Onitu.Setup.SetupException>(() =>
            SyncEngine.Create(new SyncEngineOptions { Setup = setup, DatabasePath = Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".db") },
                [new LocalStorageDriverFactory()]))!;
        Assert.That(error.Message, Does.Contain("dropbox").And.Contain("local_storage"));
    }

    [Test]
    public async Task The_driver_catalog_is_closed_once_an_engine_uses_it_and_stays_open_after_a_refused_setup()
    {
        var catalog = new Onitu.Drivers.DriverCatalog([]);
        var setup = Onitu.Setup.SetupLoader.Parse("""
            name: x
            folders: { docs: {} }
            services:
              S: { driver: local_storage, options: { root: . }, folders: { docs: docs } }
            """);
        var database = Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".db");
        Assert.Throws<Onitu.Setup.SetupException>(() => SyncEngine.Create(new SyncEngineOptions { Setup = setup, DatabasePath = database }, catalog),
            "no driver yet");

        catalog.Add(new LocalStorageDriverFactory(), "a retry once the missing driver is named");
        await using (SyncEngine.Create(new SyncEngineOptions { Setup = setup, DatabasePath = database }, catalog))
        {
            var late = Assert.Throws<InvalidOperationException>(() => catalog.Add(new OtherDriverFactory(), "too late"))!;
            Assert.That(late.Message, Does.Contain("'other'").And.Contain("before creating the engine"));
        }
        File.Delete(database);
    }

    private sealed class OtherDriverFactory : IDriverFactory
    {
        public DriverManifest Manifest { get; } = new("other", "Other", "A driver added too late.", new Dictionary<string, ManifestOption>());

        public IDriver Create(IPlug plug) => throw new NotSupportedException("never created: the catalog refuses it");
    }
}
