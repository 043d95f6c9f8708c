using Microsoft.Data.Sqlite;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// "Racily clean" files (Git's racy index entries): a file recorded within its store's timestamp resolution of its
/// last write is checked again by content at the next scan, so that a same-size rewrite in place that keeps size,
/// time and inode is still seen — and an unchanged one is only read again, not sent again.
/// </summary>
public class RacyCleanTests
{
    // A whole second, as `touch -d` gives: the local driver then assumes a coarse file system (2 s).
    private static readonly DateTime Written = new(2020, 1, 1, 12, 0, 0, DateTimeKind.Utc);

    private static long RacyReplicas(SyncHarness h, string service)
    {
        using var connection = new SqliteConnection($"Data Source={h.Engine.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM replicas WHERE racy = 1 AND service = $s";
        command.Parameters.AddWithValue("$s", service);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Rewrites a file in place (same inode), with content of the same size, and puts its time back.</summary>
    private static void RewriteInPlace(string path, string content, DateTime modified)
    {
        var inode = Inode(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
            stream.Write(System.Text.Encoding.UTF8.GetBytes(content));
        File.SetLastWriteTimeUtc(path, modified);
        Assert.That(Inode(path), Is.EqualTo(inode), "rewritten in place");
    }

    // .NET does not expose inodes; stat(1) does.
    private static string Inode(string path)
    {
        if (!OperatingSystem.IsLinux())
            return "";
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path])
        {
            RedirectStandardOutput = true,
        })!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output;
    }

    [Test]
    public async Task A_same_size_rewrite_in_place_with_the_same_time_is_found_at_the_next_scan_and_sent()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/notes.txt", "first", Written);
        // The first scan sees the file half a second after it was written: within the resolution.
        h.Clock = new ShiftedClock(Written.AddMilliseconds(500));
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/notes.txt"), Is.EqualTo("first"));

        // Rewritten within the same tick: size, time and inode as before.
        RewriteInPlace(h.PathOf("A", "docs/notes.txt"), "other", Written);
        await h.RestartAsync();
        h.Clock = null;
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("B", "docs/notes.txt"), Is.EqualTo("other"), "the rewrite reached B");
        Assert.That(h.Read("A", "docs/notes.txt"), Is.EqualTo("other"));
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty);
    }

    [Test]
    public async Task A_scan_report_that_comes_long_after_the_scan_began_is_judged_at_the_scans_start()
    {
        // A driver that lists first and reports seconds later (an ssh scan keeps reports waiting for content checks):
        // judged when the report came, the file looked long settled; when the scan looked at it, it was not.
        var clock = new ShiftedClock(Written.AddMilliseconds(500));
        var late = new LateReportingStorageFactory(() => clock.Set(Written.AddSeconds(30)));
        const string Setup = """
            name: test
            folders:
              docs: {}
            services:
              A: { driver: late_reporting_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
            """;
        await using var h = new SyncHarness(Setup) { Clock = clock };
        h.ExtraDrivers.Add(late);
        h.Write("A", "docs/notes.txt", "first", Written);

        await h.SyncExpectingSuccessAsync();

        Assert.That(RacyReplicas(h, "A"), Is.EqualTo(1), "A's report of notes.txt recorded racily clean");
        // And so a same-size rewrite in its second, after the look, is found at the next scan.
        RewriteInPlace(h.PathOf("A", "docs/notes.txt"), "other", Written);
        await h.RestartAsync();
        h.Clock = null;
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/notes.txt"), Is.EqualTo("other"), "the rewrite reached B");
    }

    /// <summary>The driver <c>late_reporting_storage</c>: local_storage whose scan starts reporting only after <c>beforeReports</c> ran.</summary>
    private sealed class LateReportingStorageFactory(Action beforeReports) : IDriverFactory
    {
        private readonly Onitu.Drivers.LocalStorage.LocalStorageDriverFactory _inner = new();

        public DriverManifest Manifest { get; } = LocalStorageManifest.Renamed("late_reporting_storage", typeof(LateReportingStorageFactory));

        public IDriver Create(IPlug plug) => new LateDriver((Onitu.Drivers.LocalStorage.LocalStorageDriver)_inner.Create(plug), beforeReports);

        private sealed class LateDriver(Onitu.Drivers.LocalStorage.LocalStorageDriver inner, Action beforeReports) : WrappedLocalDriver(inner)
        {
            public override Task ScanAsync(CancellationToken cancellationToken)
            {
                beforeReports();
                return Inner.ScanAsync(cancellationToken);
            }
        }
    }

    [Test]
    public async Task An_unchanged_racy_file_is_read_again_but_not_sent_again()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/notes.txt", "first", Written);
        h.Clock = new ShiftedClock(Written.AddMilliseconds(500));
        await h.SyncExpectingSuccessAsync();
        Assert.That(RacyReplicas(h, "A"), Is.EqualTo(1));
        var onB = new FileInfo(h.PathOf("B", "docs/notes.txt"));
        var (writtenOnB, inodeOnB) = (onB.LastWriteTimeUtc, Inode(onB.FullName));

        await h.RestartAsync();
        h.Clock = null;
        h.Events.Clear();
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Events.OfType<FileSynced>(), Is.Empty, "nothing sent again");
        onB.Refresh();
        Assert.That((onB.LastWriteTimeUtc, Inode(onB.FullName)), Is.EqualTo((writtenOnB, inodeOnB)), "B's copy untouched");
        Assert.That(RacyReplicas(h, "A"), Is.Zero, "checked by content, and clean since");
        Assert.That(RacyReplicas(h, "B"), Is.Zero);

        // And a later edit of either side still travels as usual.
        h.Write("A", "docs/notes.txt", "third!", DateTime.UtcNow.AddMinutes(-1));
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/notes.txt"), Is.EqualTo("third!"));
    }
}
