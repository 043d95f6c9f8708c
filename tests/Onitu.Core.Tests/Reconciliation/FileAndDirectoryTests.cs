using Onitu.Core.Tests.Engine;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>A file on one service and a directory of the same name on another converge in one pass.</summary>
public class FileAndDirectoryTests
{
    [Test]
    public async Task The_directory_keeps_the_path_and_the_file_is_kept_under_a_conflict_name_everywhere()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/x", "I am a file", DateTime.UtcNow.AddMinutes(-1));
        h.Write("B", "docs/x/inner.txt", "I am in a directory");
        h.Write("B", "docs/x/deeper/more.txt", "me too");

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        var tree = h.Tree("A", "docs");
        Assert.That(tree, Is.EqualTo(h.Tree("B", "docs")), "both sides converged");
        Assert.That(h.Read("A", "docs/x/inner.txt"), Is.EqualTo("I am in a directory"));
        var kept = tree.Keys.Single(k => k.StartsWith("x.conflict-A-", StringComparison.Ordinal));
        Assert.That(h.Read("B", "docs/" + kept), Is.EqualTo("I am a file"));
        Assert.That(h.Events.OfType<ConflictDetected>().Select(c => c.Path), Is.EqualTo(new[] { "x" }));

        var second = await h.SyncAsync();
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }

    [Test]
    public async Task A_file_appearing_where_a_synced_directory_is_is_renamed_aside()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/dir/a.txt", "in the directory");
        await h.SyncExpectingSuccessAsync();

        // While Onitu is stopped, B replaces the directory by a file of the same name.
        await h.RestartAsync();
        Directory.Delete(h.PathOf("B", "docs/dir"), recursive: true);
        h.Write("B", "docs/dir", "now a file");

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(h.Tree("A", "docs"), Is.EqualTo(h.Tree("B", "docs")));
        Assert.That(h.Tree("A", "docs").Keys, Has.Some.StartsWith("dir.conflict-B-"));
    }

    [Test]
    public async Task Two_services_replacing_a_directory_by_files_keep_both_files()
    {
        // Found by the model-based test: the second file renamed aside was deleted before its own rename ran.
        await using var h = new SyncHarness(SyncHarness.ThreeLocalServices);
        h.Write("A", "docs/x/y.txt", "in directory x");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        foreach (var service in new[] { "A", "C" })
        {
            Directory.Delete(h.PathOf(service, "docs/x"), recursive: true);
            h.Write(service, "docs/x", $"file x from {service}");
        }
        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(tree));
        var contents = tree.Keys.Select(k => h.Read("A", "docs/" + k)).ToList();
        Assert.That(contents, Is.SupersetOf(new[] { "file x from A", "file x from C" }));
    }

    [Test]
    public async Task Two_conflicting_files_against_a_directory_keep_both_contents()
    {
        // Found by the model-based test: the losing content of the file-file conflict was deleted when the file was
        // renamed aside for the directory.
        await using var h = new SyncHarness(SyncHarness.ThreeLocalServices);
        h.Write("A", "docs/x", "file x from A", DateTime.UtcNow.AddMinutes(-2));
        h.Write("B", "docs/x", "file x from B, later", DateTime.UtcNow.AddMinutes(-1));
        h.Write("C", "docs/x/y.txt", "in directory x on C");

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(tree));
        var contents = tree.Keys.Select(k => h.Read("A", "docs/" + k)).ToList();
        Assert.That(contents, Is.SupersetOf(new[] { "file x from A", "file x from B, later", "in directory x on C" }));
    }

    [Test]
    public async Task A_file_takes_the_place_of_an_empty_directory_a_rename_left_behind()
    {
        // Found by the model-based test: "Could not copy to docs:x: Is a directory" at every pass.
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/x/y.txt", "moved out of x");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();
        File.Move(h.PathOf("A", "docs/x/y.txt"), h.PathOf("A", "docs/y.txt")); // leaves A's x empty
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        h.Write("B", "docs/x", "a file named x");
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("A", "docs/x"), Is.EqualTo("a file named x"));
    }
    [Test]
    public async Task A_file_edited_on_one_service_deleted_on_another_and_replaced_by_a_directory_on_a_third_is_kept_once()
    {
        // Found by the model-based test (seed 2761561864842432222): the directory's report renamed the old file aside
        // on every holder, then the holders' own reports (a deletion, a new content) left those renames pending, so the
        // new content was moved under the old content's conflict name, renamed aside a second time under its own, and
        // the pass ended with "No available service holds version 1 of docs:a.conflict-…".
        await using var h = new SyncHarness(SyncHarness.ThreeLocalServices);
        h.Write("B", "docs/a.txt", "first content", DateTime.UtcNow.AddMinutes(-2));
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        File.Delete(h.PathOf("A", "docs/a.txt"));
        File.Delete(h.PathOf("C", "docs/a.txt"));
        h.Write("C", "docs/a.txt/swapped.txt", "in directory a.txt on C");
        h.Write("B", "docs/a.txt", "first content, edited on B", DateTime.UtcNow.AddMinutes(-1));

        var report = await h.SyncAsync();

        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(tree));
        Assert.That(h.Read("A", "docs/a.txt/swapped.txt"), Is.EqualTo("in directory a.txt on C"));
        var copies = tree.Keys.Where(k => k.StartsWith("a.conflict-", StringComparison.Ordinal)).ToList();
        Assert.That(copies, Has.Count.EqualTo(1), "one conflict copy of the one content kept aside");
        Assert.That(h.Read("A", "docs/" + copies[0]), Is.EqualTo("first content, edited on B"));

        var second = await h.SyncAsync();
        Assert.That(second.Errors, Is.Empty);
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }
    [Test]
    public async Task A_racily_clean_file_reported_unchanged_after_it_was_renamed_aside_is_still_moved_out_of_the_way()
    {
        // Found by the model-based test (seed 470278969273972923, now and then): B's replica of a.txt was racily clean
        // (received just after it was written); a directory a.txt/ from A renamed the file aside, then B's scan reported
        // the file with its known revision. That report dropped B's rename as if B had changed the file, so B kept
        // its a.txt, nothing was planned to remove it, and a.txt/swapped.txt could never be written there.
        var b = new ShapedLocalFactory { Resolution = TimeSpan.FromHours(1) }; // whatever B records is racily clean
        await using var h = new SyncHarness(SyncHarness.ThreeLocalServices.Replace("B: { driver: local_storage", "B: { driver: shaped_local",
            StringComparison.Ordinal));
        h.ExtraDrivers.Add(b);
        h.Write("A", "docs/a.txt", "a file first");
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        // B's scan reports its a.txt only after A's directory had the file renamed aside.
        b.ScanGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pass = h.SyncAsync();
        await SyncHarness.EventuallyAsync(() => { lock (h.Events) return h.Events.OfType<ConflictDetected>().Any(); }, "a.txt renamed aside");
        b.ScanGate.SetResult();
        var report = await pass;

        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(tree));
        Assert.That(h.Read("B", "docs/a.txt/swapped.txt"), Is.EqualTo("now a directory"));
        var copy = tree.Keys.Single(k => k.StartsWith("a.conflict-A-", StringComparison.Ordinal));
        Assert.That(h.Read("B", "docs/" + copy), Is.EqualTo("a file first"));
    }

    [Test]
    public async Task An_upload_into_a_directory_whose_name_a_target_still_holds_as_a_file_waits_for_the_file_to_go()
    {
        // Jobs run in parallel: the upload of a.txt/swapped.txt to B may run before B's rename of its file a.txt aside,
        // and fail on "Not a directory". Here that rename (or a deletion) is held until the upload was tried more times
        // than a pass lets a job fail: those tries must not count, the file being in the way only until the engine's
        // own job moves it.
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        b.HoldClearing(path: "a.txt", untilTriedAt: "a.txt/swapped.txt", tries: 4);
        await using var h = new SyncHarness(SyncHarness.ThreeLocalServices.Replace("B: { driver: local_storage", "B: { driver: shaped_local",
            StringComparison.Ordinal), o => o.SyncMaxAttempts = 3);
        h.ExtraDrivers.Add(b);
        h.Write("A", "docs/a.txt", "a file first");
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        b.Armed = true;
        var report = await h.SyncAsync();

        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        Assert.That(b.BlockedTries, Is.GreaterThanOrEqualTo(4), "the upload was tried while the file was still there");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(h.Tree("C", "docs"), Is.EqualTo(tree));
        Assert.That(h.Read("B", "docs/a.txt/swapped.txt"), Is.EqualTo("now a directory"));
    }

    [Test]
    public async Task A_rename_aside_abandoned_before_any_holder_made_it_reports_no_conflict()
    {
        // A directory a.txt/ on A has the file a.txt renamed aside on its holders; before any of them renamed it, A's
        // own deletion and B's edit drop those renames: no copy of the old content is ever kept, so announcing it as
        // a conflict copy was a lie (the edit, renamed aside in turn, is the one real conflict).
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        await using var h = LocalAndShaped(b);
        h.Write("A", "docs/a.txt", "a file first", DateTime.UtcNow.AddMinutes(-2));
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        h.Write("B", "docs/a.txt", "a file first, edited on B", DateTime.UtcNow.AddMinutes(-1));
        // B's scan reports its edit only once A's scan planned the rename aside and dropped its own part of it.
        b.ScanGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pass = h.SyncAsync();
        await SyncHarness.EventuallyAsync(() => h.Engine.GetServiceStatuses().Single(s => s.Name == "A").State == ServiceState.Running,
            "A scanned");
        b.ScanGate.SetResult();
        var report = await pass;

        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        var copy = tree.Keys.Single(k => k.StartsWith("a.conflict-", StringComparison.Ordinal));
        Assert.That(h.Read("A", "docs/" + copy), Is.EqualTo("a file first, edited on B"));
        Assert.That(h.Events.OfType<ConflictDetected>().Select(c => c.ConflictPath), Is.EqualTo(new[] { copy }),
            "one conflict, whose copy exists");
    }

    [Test]
    public async Task A_rename_aside_whose_file_is_gone_from_its_holder_is_that_holders_deletion()
    {
        // B's a.txt is to be renamed aside for A's directory a.txt/, and B, the only holder left, deleted it just before
        // (after its scan): the move found nothing to move. It fell back to an upload of the conflict copy, which no
        // service held, failing at every attempt ("No available service holds version 1 of docs:a.conflict-…").
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        await using var h = LocalAndShaped(b);
        h.Write("A", "docs/a.txt", "a file first", DateTime.UtcNow.AddMinutes(-2));
        h.Write("A", "docs/other.txt", "another file");
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        b.BeforeMove = source =>
        {
            if (source.Path != "a.txt")
                return;
            // Once A's scan is over, its deletion of a.txt applied: B's rename is then the last one planned.
            SpinWait.SpinUntil(() => h.Engine.GetServiceStatuses().Single(s => s.Name == "A").State == ServiceState.Running,
                SyncHarness.Timeout(5));
            File.Delete(h.PathOf("B", "docs/a.txt"));
        };
        var report = await h.SyncAsync();

        await AssertTheFileIsDeletedOnBothAndKeptNowhereAsync(h, report);
    }

    /// <summary>The end of a rename aside whose file B deleted meanwhile: gone from both, no conflict copy, and settled.</summary>
    private static async Task AssertTheFileIsDeletedOnBothAndKeptNowhereAsync(SyncHarness h, SyncReport report)
    {
        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        Assert.That(tree.Keys, Is.EquivalentTo(new[] { "a.txt/swapped.txt", "other.txt" }), "deleted on both, kept nowhere");
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty, "no conflict copy was made");

        var second = await h.SyncAsync();
        Assert.That(second.Errors, Is.Empty);
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }

    [Test]
    public async Task A_move_whose_file_is_gone_from_its_target_brings_the_moved_file_there_from_its_holder()
    {
        // The ordinary move beside the rename aside above (moves are reported by a watcher): A renamed x.txt, and B
        // deleted its x.txt just before its own move. B receives y.txt from A.
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        await using var h = LocalAndShaped(b);
        h.Write("A", "docs/x.txt", "moved content");
        Directory.CreateDirectory(h.PathOf("B", "docs"));
        await h.Engine.StartAsync();
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/x.txt"), "x.txt on B");

        var moves = 0;
        b.BeforeMove = source =>
        {
            Interlocked.Increment(ref moves);
            File.Delete(h.PathOf("B", "docs/x.txt"));
        };
        File.Move(h.PathOf("A", "docs/x.txt"), h.PathOf("A", "docs/y.txt"));
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "docs/y.txt") && h.Engine.GetProgress().PendingJobs == 0, "y.txt on B");
        await h.Engine.StopAsync();

        Assert.That(Volatile.Read(ref moves), Is.EqualTo(1), "B's move ran, and found its file gone");
        Assert.That(h.Tree("B", "docs").Keys, Is.EqualTo(new[] { "y.txt" }));
        Assert.That(h.Read("B", "docs/y.txt"), Is.EqualTo("moved content"));
        Assert.That(h.Tree("A", "docs"), Is.EqualTo(h.Tree("B", "docs")));
        lock (h.Events)
            Assert.That(h.Events.OfType<TransferFailed>(), Is.Empty);
    }

    [Test]
    public async Task A_rename_aside_on_a_driver_without_native_move_keeps_the_file_under_its_conflict_name()
    {
        // B, a driver without INativeMove, is the last holder of a.txt when a.txt is renamed aside for A's directory
        // a.txt/ (A deleted its a.txt after its scan reported the directory). The move fell back to an upload of the
        // conflict copy, which no service held: "No available service holds version 1 of docs:a.conflict-…" at every
        // attempt. The rename is a copy within B, then the deletion of the old name there.
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero, NativeMove = false };
        await using var h = RenameAsideOnB(b);
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        var report = await h.SyncAsync();

        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        var kept = tree.Keys.Single(k => k.StartsWith("a.conflict-A-", StringComparison.Ordinal));
        Assert.That(tree.Keys, Is.EquivalentTo(new[] { "a.txt/swapped.txt", kept, "other.txt" }));
        Assert.That(h.Read("B", "docs/" + kept), Is.EqualTo("a file first"), "the content renamed aside is kept");
        Assert.That(h.Events.OfType<ConflictDetected>().Select(c => c.ConflictPath), Is.EqualTo(new[] { kept }));

        var second = await h.SyncAsync();
        Assert.That(second.Errors, Is.Empty);
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }

    [Test]
    public async Task A_rename_aside_whose_file_is_gone_from_a_holder_without_native_move_is_that_holders_deletion()
    {
        // As A_rename_aside_whose_file_is_gone_from_its_holder_is_that_holders_deletion, on a driver without INativeMove:
        // its move fell back to an upload of the conflict copy, which no service held, failing at every attempt (and
        // in watch mode for ever).
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero, NativeMove = false };
        await using var h = RenameAsideOnB(b);
        await SyncThenReplaceFileByDirectoryOnAAsync(h);
        b.AfterScan = () =>
        {
            // Once A's scan is over (B's rename then the last one planned), and after B's scan, B's a.txt goes.
            SpinWait.SpinUntil(() => h.Engine.GetServiceStatuses().Single(s => s.Name == "A").State == ServiceState.Running,
                SyncHarness.Timeout(5));
            File.Delete(h.PathOf("B", "docs/a.txt"));
            b.AfterScan = null;
        };
        var report = await h.SyncAsync();

        Assert.That(b.AfterScan, Is.Null, "B's a.txt was deleted after its scan");

        await AssertTheFileIsDeletedOnBothAndKeptNowhereAsync(h, report);
    }

    [Test]
    public async Task A_losing_content_whose_conflict_name_turned_up_on_its_holder_is_kept_under_the_next_name()
    {
        // B's losing edit is to be kept as a.conflict-B-<time>.txt, and a file of that name appeared on B after its scan
        // (in the model test: left by a killed pass whose database was then lost). The move aside was refused, the
        // name being taken on B, at every attempt: "Refused to move docs:a.conflict-B-…: it changed on disk".
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        await using var h = RenameAsideOnB(b);
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        var losingTime = new DateTime(2026, 11, 20, 10, 0, 0, DateTimeKind.Utc);
        h.Write("B", "docs/a.txt", "B's edit, older", losingTime);
        h.Write("A", "docs/a.txt", "A's edit, later", losingTime.AddMinutes(5));
        var conflictName = "a.conflict-B-20261120-100000.txt";
        b.AfterScan = () =>
        {
            h.Write("B", "docs/" + conflictName, "a file that happens to have the conflict's name");
            b.AfterScan = null;
        };
        var report = await h.SyncAsync();

        Assert.That(b.AfterScan, Is.Null, "the file turned up on B after its scan");
        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        var contents = tree.Keys.Select(k => h.Read("A", "docs/" + k)).ToList();
        Assert.That(contents, Is.SupersetOf(new[] { "A's edit, later", "B's edit, older", "a file that happens to have the conflict's name" }));
        Assert.That(h.Read("B", "docs/a.txt"), Is.EqualTo("A's edit, later"));

        var second = await h.SyncAsync();
        Assert.That(second.Errors, Is.Empty);
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }

    [Test]
    public async Task A_file_renamed_aside_onto_a_name_where_its_holder_has_it_already_converges()
    {
        // As above for a rename aside: B's a.txt is to be renamed aside for A's directory a.txt/, and the same content
        // turned up on B under the conflict name after its scan (a killed pass's own rename, whose record was lost).
        // B's refused move, reported, was dropped as done, and B's a.txt stayed in the way of a.txt/ ("Not a
        // directory" at every attempt), with A never sent the conflict copy.
        const string leftover = "a file first";
        var b = new ShapedLocalFactory { Resolution = TimeSpan.Zero };
        await using var h = RenameAsideOnB(b);
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        var written = File.GetLastWriteTimeUtc(h.PathOf("A", "docs/a.txt"));
        var conflictName = ConflictNamingFor("a.txt", "A", written);
        File.Delete(h.PathOf("A", "docs/a.txt"));
        h.Write("A", "docs/a.txt/swapped.txt", "now a directory");
        b.AfterScan = () =>
        {
            h.Write("B", "docs/" + conflictName, leftover);
            b.AfterScan = null;
        };
        var report = await h.SyncAsync();

        Assert.That(b.AfterScan, Is.Null, "the file turned up on B after its scan");
        Assert.That(report.Errors, Is.Empty, "errors of the sync pass");
        Assert.That(report.PendingJobs, Is.Zero, "jobs left after the sync pass");
        var tree = h.Tree("A", "docs");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(tree));
        var contents = tree.Keys.Select(k => h.Read("A", "docs/" + k)).ToList();
        Assert.That(contents, Is.EquivalentTo(new[] { "now a directory", leftover, "another file" }));

        var second = await h.SyncAsync();
        Assert.That(second.Errors, Is.Empty);
        Assert.That(second.FilesSynced, Is.Zero, "settled");
    }

    private static string ConflictNamingFor(string path, string service, DateTime written) =>
        Onitu.Transfers.ConflictNaming.Create(path, service, new DateTimeOffset(written, TimeSpan.Zero));

    private static SyncHarness RenameAsideOnB(ShapedLocalFactory b)
    {
        var h = LocalAndShaped(b);
        h.Write("A", "docs/a.txt", "a file first", DateTime.UtcNow.AddMinutes(-2));
        h.Write("A", "docs/other.txt", "another file");
        return h;
    }

    // Synced; then, while Onitu is stopped, A replaces its file a.txt by a directory of the same name.
    private static async Task SyncThenReplaceFileByDirectoryOnAAsync(SyncHarness h)
    {
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();
        File.Delete(h.PathOf("A", "docs/a.txt"));
        h.Write("A", "docs/a.txt/swapped.txt", "now a directory");
    }

    /// <summary>A harness of service A (local_storage) and service B, whose driver <paramref name="b"/> shapes.</summary>
    private static SyncHarness LocalAndShaped(ShapedLocalFactory b)
    {
        var h = new SyncHarness("""
            name: test
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: shaped_local, options: { root: B }, folders: { docs: docs } }
            """);
        h.ExtraDrivers.Add(b);
        return h;
    }

    /// <summary>
    /// The driver <c>shaped_local</c>: local_storage with a chosen timestamp resolution, a scan that may wait for a
    /// gate, and, once armed, a move or deletion of one path held until an upload to another was tried some times
    /// (or a few seconds passed).
    /// </summary>
    private sealed class ShapedLocalFactory : IDriverFactory
    {
        private readonly Onitu.Drivers.LocalStorage.LocalStorageDriverFactory _inner = new();
        private readonly TaskCompletionSource _triedEnough = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private (string Path, string BlockedPath, int Tries)? _hold;
        private int _blockedTries;

        public TimeSpan Resolution { get; init; }
        public TaskCompletionSource? ScanGate { get; set; }
        public bool Armed { get; set; }

        /// <summary>Runs before each move, as a user acting on the store just before it would.</summary>
        public Action<Metadata>? BeforeMove { get; set; }

        /// <summary>Runs once the scan is done, before the service is ready, as a user acting just after the scan.</summary>
        public Action? AfterScan { get; set; }

        /// <summary>Whether the driver moves natively (<see cref="INativeMove"/>); a third-party driver may not.</summary>
        public bool NativeMove { get; init; } = true;
        public int BlockedTries => Volatile.Read(ref _blockedTries);

        public DriverManifest Manifest { get; } = LocalStorageManifest.Renamed("shaped_local", typeof(ShapedLocalFactory));

        public void HoldClearing(string path, string untilTriedAt, int tries) => _hold = (path, untilTriedAt, tries);

        public IDriver Create(IPlug plug)
        {
            var local = (Onitu.Drivers.LocalStorage.LocalStorageDriver)_inner.Create(plug);
            return NativeMove ? new NativeMovingShapedDriver(local, this) : new ShapedDriver(local, this);
        }

        private async Task WaitIfHeldAsync(Metadata metadata)
        {
            if (Armed && _hold is { } hold && metadata.Path == hold.Path)
            {
                try
                {
                    await _triedEnough.Task.WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                }
            }
        }

        private void Tried(Metadata metadata)
        {
            if (_hold is { } hold && metadata.Path == hold.BlockedPath && Interlocked.Increment(ref _blockedTries) >= hold.Tries)
                _triedEnough.TrySetResult();
        }

        private class ShapedDriver(Onitu.Drivers.LocalStorage.LocalStorageDriver inner, ShapedLocalFactory factory) : WrappedLocalDriver(inner)
        {
            protected ShapedLocalFactory Factory => factory;

            public override async Task ScanAsync(CancellationToken cancellationToken)
            {
                if (factory.ScanGate is { } gate)
                    await gate.Task.WaitAsync(cancellationToken);
                await Inner.ScanAsync(cancellationToken);
                factory.AfterScan?.Invoke();
            }

            public override TimeSpan GetTimestampResolution(Metadata file) => factory.Resolution;

            public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
            {
                try
                {
                    await Inner.UploadFileAsync(metadata, content, cancellationToken);
                }
                finally
                {
                    factory.Tried(metadata);
                }
            }

            public override async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
            {
                await factory.WaitIfHeldAsync(metadata);
                await Inner.DeleteFileAsync(metadata, cancellationToken);
            }
        }

        /// <summary><c>shaped_local</c> with the local driver's <see cref="INativeMove"/>; without it, as a third-party driver may be, it is <see cref="ShapedDriver"/>.</summary>
        private sealed class NativeMovingShapedDriver(Onitu.Drivers.LocalStorage.LocalStorageDriver inner, ShapedLocalFactory factory)
            : ShapedDriver(inner, factory), INativeMove
        {
            public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
            {
                await Factory.WaitIfHeldAsync(source);
                Factory.BeforeMove?.Invoke(source);
                await Inner.MoveFileAsync(source, destination, cancellationToken);
            }
        }
    }
}
