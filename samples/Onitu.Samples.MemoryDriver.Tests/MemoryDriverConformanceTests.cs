using NUnit.Framework;
using Onitu.Testing;

namespace Onitu.Samples.MemoryDriver.Tests;

/// <summary>The memory driver against the Onitu conformance suite.</summary>
[TestFixture] // also makes this assembly reference NUnit, which the test adapter looks for
public class MemoryDriverConformanceTests : DriverConformanceTests
{
    protected override IDriverFactory CreateFactory() => new MemoryDriverFactory();

    // The memory driver polls its store: change notifications are supported, so the live tests run.
    protected override DriverCapabilities Capabilities => DriverCapabilities.Default with { ChangeNotifications = true };

    protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
    {
        var store = "conformance-" + Guid.NewGuid().ToString("N");
        return ValueTask.FromResult(new DriverTestArea(
            new Dictionary<string, object?> { ["store"] = store, ["poll-ms"] = 20L },
            "docs",
            cleanup: () =>
            {
                MemoryStore.Delete(store);
                return ValueTask.CompletedTask;
            }));
    }

    // The manifest.json file itself, not the factory's manifest written back.
    protected override string GetManifestJson()
    {
        using var stream = typeof(MemoryDriverFactory).Assembly.GetManifestResourceStream("Onitu.Samples.MemoryDriver.manifest.json")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
