using Onitu.Testing;

namespace Onitu.Drivers.LocalStorage.Tests.Conformance;

/// <summary>The reference driver passes the whole conformance suite, through the same public fixture a third party uses.</summary>
[TestFixture]
public class LocalStorageConformanceTests : DriverConformanceTests
{
    protected override IDriverFactory CreateFactory() => new LocalStorageDriverFactory();

    protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
    {
        // The scratch directory is deleted after each test, so the area needs no cleanup of its own. The folder's
        // directory is made here, as a scan or the engine's marker would: a write never makes it.
        Directory.CreateDirectory(Path.Combine(scratchDirectory, "docs"));
        return ValueTask.FromResult(new DriverTestArea(
            new Dictionary<string, object?> { ["root"] = scratchDirectory, ["debounce-ms"] = 20L }, "docs")
        {
            // The files on disk, read and written without the driver.
            View = new DirectoryStoreView(Path.Combine(scratchDirectory, "docs")),
        });
    }
}
