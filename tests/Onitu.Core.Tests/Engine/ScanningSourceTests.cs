using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// A service is read from while its scan is still running: what it has reported is sent without waiting for the end
/// of its scan, and every read is still checked against the revision the file was reported with.
/// </summary>
[TestFixture]
public class ScanningSourceTests
{
    private const string Setup = """
        name: test
        folders:
          docs: {}
        services:
          A: { driver: held_storage, options: { root: A }, folders: { docs: { path: docs, mode: r } } }
          B: { driver: local_storage, options: { root: B }, folders: { docs: { path: docs, mode: w } } }
        """;

    [Test]
    public async Task Files_a_source_has_reported_are_sent_before_its_scan_ends()
    {
        var held = new HeldScanFactory();
        await using var h = new SyncHarness(Setup);
        h.ExtraDrivers.Add(held);
        for (var i = 0; i < 5; i++)
            h.Write("A", $"docs/f{i}.txt", $"content {i}");

        var pass = h.SyncAsync();
        await held.ScanHeld.Task.WaitAsync(SyncHarness.Timeout());
        try
        {
            // Before, a scanning service was no source: nothing reached B until A's scan had ended.
            await SyncHarness.EventuallyAsync(() => Enumerable.Range(0, 5).All(i => h.Exists("B", $"docs/f{i}.txt")),
                "every file A reported on B while A's scan is still running");
        }
        finally
        {
            held.Release.TrySetResult();
        }
        var report = await pass;

        Assert.That(report.Errors, Is.Empty);
        Assert.That(h.Tree("B"), Is.EqualTo(h.Tree("A")));
    }

    [Test]
    public async Task A_file_rewritten_after_its_source_reported_it_converges_to_its_new_content_with_no_conflict()
    {
        var held = new HeldScanFactory();
        await using var h = new SyncHarness(Setup);
        h.ExtraDrivers.Add(held);
        h.Write("A", "docs/a.txt", "first");
        h.Write("A", "docs/b.txt", "kept");
        // Reported as "first", rewritten (another size, an older time) before any transfer may read it: the read is
        // refused as that version, and the rewrite goes as a version of its own.
        held.AfterReports = () => h.Write("A", "docs/a.txt", "second, longer", DateTime.UtcNow.AddSeconds(-30));

        var pass = h.SyncAsync();
        await held.ScanHeld.Task.WaitAsync(SyncHarness.Timeout());
        try
        {
            await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/b.txt"), "b.txt on B while A scans");
        }
        finally
        {
            held.Release.TrySetResult();
        }
        await pass;
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("B"), Is.EqualTo(h.Tree("A")), "B holds what A holds, and no conflict copy");
        Assert.That(h.Read("B", "docs/a.txt"), Is.EqualTo("second, longer"));
    }

    /// <summary>The driver <c>held_storage</c>: local_storage whose scan, once it has reported everything, waits for <see cref="Release"/>.</summary>
    private sealed class HeldScanFactory : IDriverFactory
    {
        private readonly LocalStorageDriverFactory _inner = new();

        public TaskCompletionSource ScanHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Action? AfterReports { get; set; }

        public DriverManifest Manifest { get; } = LocalStorageManifest.Renamed("held_storage", typeof(HeldScanFactory));

        public IDriver Create(IPlug plug) => new HeldDriver((LocalStorageDriver)_inner.Create(plug), this);

        private sealed class HeldDriver(LocalStorageDriver inner, HeldScanFactory factory) : WrappedLocalDriver(inner)
        {
            public override async Task ScanAsync(CancellationToken cancellationToken)
            {
                await Inner.ScanAsync(cancellationToken);
                if (factory.ScanHeld.Task.IsCompleted)
                    return; // only the first scan is held
                factory.AfterReports?.Invoke();
                factory.ScanHeld.TrySetResult();
                await factory.Release.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
