using Microsoft.Data.Sqlite;

namespace Onitu.Core.Tests.Engine;

/// <summary>The engine's own background work is supervised: a failure is reported and recovered, never silent.</summary>
public class SupervisionTests
{
    [Test]
    public async Task A_store_failure_in_the_transfer_scheduler_is_reported_and_the_scheduler_recovers()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/before.txt", "before the failure");
        await h.Engine.StartAsync();
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/before.txt"), "the first file synced");

        // The scheduler's next read of the jobs table fails: the table is gone for a moment.
        await using (var outside = new SqliteConnection($"Data Source={h.Engine.DatabasePath};Pooling=False"))
        {
            await outside.OpenAsync();
            await using (var hide = outside.CreateCommand())
            {
                hide.CommandText = "ALTER TABLE jobs RENAME TO jobs_hidden";
                await hide.ExecuteNonQueryAsync();
            }
            await SyncHarness.EventuallyAsync(() => h.Events.OfType<EngineFaulted>().Any(f => f.Component == "transfer scheduler"),
                "the scheduler's failure published as EngineFaulted");
            await using var restore = outside.CreateCommand();
            restore.CommandText = "ALTER TABLE jobs_hidden RENAME TO jobs";
            await restore.ExecuteNonQueryAsync();
        }
        Assert.That(h.Events.OfType<EngineFaulted>().First().Reason, Does.Contain("jobs"));

        h.Write("A", "docs/after.txt", "after the recovery");
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/after.txt"), "a file synced after the scheduler restarted");
        Assert.That((await h.Engine.GetProgressAsync()).SchedulerFault, Is.Null, "recovered");
        Assert.That(h.Engine.GetServiceStatuses().Select(s => s.State), Is.All.EqualTo(ServiceState.Running));
    }

    [Test]
    public async Task A_folder_a_transfer_finds_missing_fails_its_service_at_once_with_the_markers_reason()
    {
        const string Setup = """
            name: test
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: unmounting_storage, options: { root: B }, folders: { docs: docs } }
            """;
        var unmounting = new UnmountingStorageFactory();
        await using var h = new SyncHarness(Setup);
        h.ExtraDrivers.Add(unmounting);
        h.Write("A", "docs/first.txt", "first");
        await h.SyncExpectingSuccessAsync();

        // B's disk goes away after B's scan, as its first upload of the pass begins: a one-shot pass watches nothing,
        // so the upload is the first to find out.
        h.Write("A", "docs/second.txt", "second");
        unmounting.Away = h.PathOf("B", "docs") + ".unmounted";
        var report = await h.SyncAsync();

        Assert.Multiple(() =>
        {
            Assert.That(report.Errors, Has.Some.StartsWith("service 'B' is failing: ").And.Contains("folder marker missing: is the disk mounted?"),
                "B fails as a scan without its marker would, not after repeated failed transfers");
            Assert.That(unmounting.Uploads, Is.EqualTo(1), "no upload to B after the first found its folder gone");
            Assert.That(Directory.Exists(h.PathOf("B", "docs")), Is.False, "B's folder is not made again");
            Assert.That(h.Tree("B", "docs.unmounted").Keys, Is.EqualTo(new[] { "first.txt" }), "nothing deleted from the disk either");
        });
    }

    /// <summary>The driver <c>unmounting_storage</c>: local_storage whose folder is moved away when an upload begins, once <see cref="Away"/> is set.</summary>
    private sealed class UnmountingStorageFactory : IDriverFactory
    {
        private readonly Onitu.Drivers.LocalStorage.LocalStorageDriverFactory _inner = new();
        private int _uploads;

        public DriverManifest Manifest { get; } = LocalStorageManifest.Renamed("unmounting_storage", typeof(UnmountingStorageFactory));

        public string? Away { get; set; }

        public int Uploads => Volatile.Read(ref _uploads);

        public IDriver Create(IPlug plug) => new UnmountingDriver((Onitu.Drivers.LocalStorage.LocalStorageDriver)_inner.Create(plug), this, plug);

        private sealed class UnmountingDriver(Onitu.Drivers.LocalStorage.LocalStorageDriver inner, UnmountingStorageFactory factory, IPlug plug)
            : WrappedLocalDriver(inner)
        {
            public override ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
            {
                if (factory.Away is { } away && metadata.Path != FolderMarker.FileName)
                {
                    Interlocked.Increment(ref factory._uploads);
                    var folder = Path.Combine(plug.BaseDirectory, "B", "docs");
                    if (Directory.Exists(folder))
                        Directory.Move(folder, away);
                }
                return Inner.UploadFileAsync(metadata, content, cancellationToken);
            }
        }
    }
}
