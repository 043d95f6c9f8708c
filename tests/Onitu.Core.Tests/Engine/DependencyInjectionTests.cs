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
        }).AddDriver<LocalStorageDriverFactory>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<SyncEngine>())!;
        Assert.That(error.Failures, Has.Some.Contains("ChunkSize").And.Some.Contains("MaxParallelTransfers"));
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
}
