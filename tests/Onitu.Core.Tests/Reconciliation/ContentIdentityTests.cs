using Onitu.Core.Tests.Engine;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>
/// Copies of a path that meet without a known relation (a first pairing, a lost state database) are recognised by
/// content: the same content is the same version, never a transfer or a conflict copy.
/// </summary>
public class ContentIdentityTests
{
    private static void WriteIdenticalTrees(SyncHarness h, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var content = SyncHarness.RandomBytes(100 + i, seed: i);
            // Different modification times on each side: only the content says they are the same.
            h.Write("A", $"docs/d{i % 3}/f{i}.bin", content, DateTime.UtcNow.AddMinutes(-10 - i));
            h.Write("B", $"docs/d{i % 3}/f{i}.bin", content, DateTime.UtcNow.AddMinutes(-5 - i));
        }
    }

    private static int ConflictCopies(SyncHarness h, string service) =>
        h.Tree(service, "docs").Keys.Count(k => k.Contains(".conflict-", StringComparison.Ordinal));

    [Test]
    public async Task A_first_pairing_of_identical_trees_transfers_nothing_and_makes_no_conflict_copy()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        WriteIdenticalTrees(h, 30);

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(report.FilesSynced, Is.Zero, "identical files are not copied again");
        Assert.That(ConflictCopies(h, "A") + ConflictCopies(h, "B"), Is.Zero);
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty);
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }

    [Test]
    public async Task A_first_pairing_of_identical_files_written_just_before_it_transfers_nothing_and_makes_no_conflict_copy()
    {
        // What a fast machine meets when the pass runs right after the files were written (a first pairing, or a lost
        // database right after a pass that copied them): every copy is racily clean, its content unknown to the engine.
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        var written = new DateTime(2020, 1, 1, 12, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < 20; i++)
        {
            var content = SyncHarness.RandomBytes(200, seed: i);
            h.Write("A", $"docs/f{i}.bin", content, written);
            h.Write("B", $"docs/f{i}.bin", content, written);
        }
        h.Clock = new ShiftedClock(written.AddMilliseconds(500));

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(report.FilesSynced, Is.Zero, "identical files are not copied again");
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty);
        Assert.That(ConflictCopies(h, "A") + ConflictCopies(h, "B"), Is.Zero);
    }

    [Test]
    public async Task A_first_pairing_keeps_both_contents_of_a_file_that_differs_and_copies_what_one_side_lacks()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        WriteIdenticalTrees(h, 5);
        h.Write("A", "docs/same-size.txt", "AAAA", DateTime.UtcNow.AddMinutes(-2));
        h.Write("B", "docs/same-size.txt", "BBBB", DateTime.UtcNow.AddMinutes(-1));
        h.Write("A", "docs/only-a.txt", "only on A");

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("A", "docs/same-size.txt"), Is.EqualTo("BBBB"), "the later write keeps the name");
        var conflict = h.Tree("A", "docs").Keys.Single(k => k.StartsWith("same-size.conflict-A-", StringComparison.Ordinal));
        Assert.That(h.Read("B", "docs/" + conflict), Is.EqualTo("AAAA"), "the other content survives everywhere");
        Assert.That(h.Read("B", "docs/only-a.txt"), Is.EqualTo("only on A"));
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }

    [Test]
    public async Task Losing_the_state_database_once_or_twice_duplicates_nothing_and_every_pass_ends()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        // The engine's clock a minute behind the files' times: every file counts as just written (racily clean), as on
        // a fast machine where the pass after the lost database starts within the local driver's 20 ms of the copies
        // the previous pass wrote (how this test once failed in CI, with 20 conflicts on identical files).
        h.Clock = new ShiftedClock(DateTimeOffset.UtcNow.AddMinutes(-1));
        for (var i = 0; i < 20; i++)
            h.Write(i % 2 == 0 ? "A" : "B", $"docs/f{i}.bin", SyncHarness.RandomBytes(200, seed: i));
        await h.SyncExpectingSuccessAsync();
        var synced = h.Tree("A", "docs");
        Assert.That(synced, Has.Count.EqualTo(20));

        for (var round = 0; round < 2; round++)
        {
            var database = h.Engine.DatabasePath;
            await h.RestartAsync();
            File.Delete(database);

            var report = await h.SyncAsync();

            Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
            Assert.That(report.FilesSynced, Is.Zero, $"round {round}: nothing to copy after losing the database");
            Assert.That(h.Tree("A", "docs"), Is.EqualTo(synced), $"round {round}: A unchanged, no conflict copy");
            Assert.That(h.Tree("B", "docs"), Is.EqualTo(synced), $"round {round}: B unchanged, no conflict copy");
        }
    }

    [Test]
    public async Task A_copy_whose_arrival_was_never_recorded_is_recognised_by_its_content()
    {
        // What a kill between the rename into place and the commit leaves: B holds the new content, the database
        // still says B holds the old version and has a job to bring it the new one.
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/f.txt", "version one", DateTime.UtcNow.AddMinutes(-3));
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        h.Write("A", "docs/f.txt", "version two", DateTime.UtcNow.AddMinutes(-2));
        File.Copy(h.PathOf("A", "docs/f.txt"), h.PathOf("B", "docs/f.txt"), overwrite: true);
        File.SetLastWriteTimeUtc(h.PathOf("B", "docs/f.txt"), DateTime.UtcNow.AddMinutes(-1));

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(h.Events.OfType<ConflictDetected>(), Is.Empty);
        Assert.That(h.Tree("A", "docs").Keys, Is.EqualTo(new[] { "f.txt" }));
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }

    [Test]
    public async Task A_write_only_mirror_that_already_holds_the_files_is_recorded_not_copied_again()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(extraServiceB: "mode: w"));
        WriteIdenticalTrees(h, 12);
        h.Write("B", "docs/d0/f0.bin", SyncHarness.RandomBytes(100, seed: 999)); // one the mirror holds differently

        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.True, string.Join("\n", report.Errors));
        Assert.That(report.FilesSynced, Is.EqualTo(1), "only the differing file is sent to the mirror");
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }
}
