using NUnit.Framework;
using Onitu;
using Onitu.Testing;

namespace OnituDriver1.Tests;

/// <summary>
/// The driver against Onitu's conformance suite: every test of DriverConformanceTests runs on it, through the real
/// engine against the local_storage reference driver, and on its handlers directly. Override a test (with the reason)
/// to skip or adapt it; declare what the store cannot do in <see cref="Capabilities"/>.
/// </summary>
[TestFixture] // also makes this assembly reference NUnit, which the test adapter looks for
public class ConformanceTests : DriverConformanceTests
{
    protected override IDriverFactory CreateFactory() => new DriverFactory();

    // The watcher polls: changes made by others are seen, so the live tests run.
    protected override DriverCapabilities Capabilities => DriverCapabilities.Default;

    protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
    {
        // A fresh store per test. For a remote store: create a bucket or directory here and delete it in the cleanup.
        Directory.CreateDirectory(scratchDirectory);
        return ValueTask.FromResult(new DriverTestArea(
            new Dictionary<string, object?> { ["root"] = scratchDirectory, ["poll-ms"] = 50L },
            "docs")
        {
            // An independent view of the store, so the kit checks what the driver wrote without trusting its reads.
            View = new DirectoryStoreView(Path.Combine(scratchDirectory, "docs")),
        });
    }

    // The manifest.json file itself, not the factory's manifest written back.
    protected override string GetManifestJson()
    {
        using var stream = typeof(DriverFactory).Assembly.GetManifestResourceStream("OnituDriver1.manifest.json")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
