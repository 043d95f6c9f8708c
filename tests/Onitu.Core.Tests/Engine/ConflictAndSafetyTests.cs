namespace Onitu.Core.Tests.Engine;

public class ConflictAndSafetyTests
{
    [Test]
    public async Task Concurrent_edits_keep_both_contents_the_later_write_keeping_the_name()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/notes.txt", "base");
        await h.SyncExpectingSuccessAsync();

        var now = DateTime.UtcNow;
        h.Write("A", "docs/notes.txt", "edit from A (earlier)", now.AddSeconds(10));
        h.Write("B", "docs/notes.txt", "edit from B (later)", now.AddSeconds(20));
        await h.SyncExpectingSuccessAsync();

        foreach (var side in new[] { "A", "B" })
        {
            Assert.That(h.Read(side, "docs/notes.txt"), Is.EqualTo("edit from B (later)"), $"{side} keeps the later write under the name");
            var copies = h.Tree(side, "docs").Keys.Where(k => k.Contains(".conflict-A-", StringComparison.Ordinal)).ToList();
            Assert.That(copies, Has.Count.EqualTo(1), $"{side} has the conflict copy");
            Assert.That(h.Read(side, "docs/" + copies[0]), Is.EqualTo("edit from A (earlier)"));
            Assert.That(copies[0], Does.EndWith(".txt"), "the extension stays last");
        }
    }

    /// <summary>
    /// A content held only by a service that is only read from can never be moved aside there: the other content is
    /// the one kept aside, on the services that take both, whichever write was later and whichever was reported first.
    /// </summary>
    [Test]
    public async Task A_conflict_with_a_read_only_service_keeps_both_contents_where_they_can_be_written(
        [Values("A", "B")] string laterWriter, [Values] bool readOnlyListedFirst)
    {
        var a = "A: { driver: local_storage, options: { root: A }, folders: { docs: { path: docs, mode: r } } }";
        var b = "B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }";
        await using var h = new SyncHarness(ThreeServices(readOnlyListedFirst ? [a, b] : [b, a]));
        h.Write("A", "docs/f.txt", "base");
        await h.SyncExpectingSuccessAsync();

        EditConcurrently(h, laterWriter, ("A", "read-only edit"), ("B", "edit on B"));
        await h.SyncExpectingSuccessAsync();
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("A", "docs").Keys, Is.EqualTo(new[] { "f.txt" }), "nothing is written on the read-only service");
        Assert.That(h.Read("A", "docs/f.txt"), Is.EqualTo("read-only edit"));
        foreach (var side in new[] { "B", "C" })
            Assert.That(Contents(h, side), Is.EqualTo(new[] { "f.conflict-B- edit on B", "f.txt read-only edit" }), side);
    }

    /// <summary>
    /// A content held only by a service whose rules refuse the other content cannot be moved aside there either:
    /// the other content is kept aside instead, and the service keeps the content its rules allow.
    /// </summary>
    [Test]
    public async Task A_conflict_with_a_service_whose_rules_refuse_the_other_content_keeps_both_contents(
        [Values("A", "B")] string laterWriter, [Values] bool smallListedFirst)
    {
        var a = "A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }";
        var b = "B: { driver: local_storage, options: { root: B }, folders: { docs: { path: docs, max-size: 10 } } }";
        await using var h = new SyncHarness(ThreeServices(smallListedFirst ? [b, a] : [a, b]));
        h.Write("A", "docs/f.txt", "base");
        await h.SyncExpectingSuccessAsync();

        EditConcurrently(h, laterWriter, ("A", "an edit longer than B's limit"), ("B", "small"));
        await h.SyncExpectingSuccessAsync();
        await h.SyncExpectingSuccessAsync();

        Assert.That(Contents(h, "B"), Is.EqualTo(new[] { "f.txt small" }), "B takes nothing over its limit");
        foreach (var side in new[] { "A", "C" })
            Assert.That(Contents(h, side), Is.EqualTo(new[] { "f.conflict-A- an edit longer than B's limit", "f.txt small" }), side);
    }

    private static string ThreeServices(string[] firstTwo) => $$"""
        name: three
        folders:
          docs: {}
        services:
          {{firstTwo[0]}}
          {{firstTwo[1]}}
          C: { driver: local_storage, options: { root: C }, folders: { docs: docs } }
        """;

    private static void EditConcurrently(SyncHarness h, string laterWriter, (string Service, string Content) first, (string Service, string Content) second)
    {
        var now = DateTime.UtcNow;
        h.Write(first.Service, "docs/f.txt", first.Content, now.AddSeconds(first.Service == laterWriter ? 20 : 10));
        h.Write(second.Service, "docs/f.txt", second.Content, now.AddSeconds(second.Service == laterWriter ? 20 : 10));
    }

    /// <summary>Each file of a side's folder as "name content", a conflict copy's name cut after its service.</summary>
    private static string[] Contents(SyncHarness h, string side) =>
        [.. h.Tree(side, "docs").Keys.Select(name =>
            (name.Contains(".conflict-", StringComparison.Ordinal) ? name[..(name.IndexOf(".conflict-", StringComparison.Ordinal) + 12)] : name)
            + " " + h.Read(side, "docs/" + name)).Order(StringComparer.Ordinal)];

    [Test]
    public async Task An_edit_beats_a_concurrent_deletion()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/precious.txt", "v1");
        await h.SyncExpectingSuccessAsync();

        File.Delete(h.PathOf("A", "docs/precious.txt"));
        h.Write("B", "docs/precious.txt", "v2 edited", DateTime.UtcNow.AddSeconds(5));
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("A", "docs/precious.txt"), Is.EqualTo("v2 edited"));
        Assert.That(h.Read("B", "docs/precious.txt"), Is.EqualTo("v2 edited"));
    }

    [Test]
    public async Task A_vanished_root_fails_its_service_and_deletes_nothing_elsewhere()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        for (var i = 0; i < 3; i++)
            h.Write("A", $"docs/f{i}.txt", "x");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        Directory.Delete(h.PathOf("B", "docs"), recursive: true); // an unmounted disk
        var report = await h.SyncAsync();

        Assert.That(report.Succeeded, Is.False);
        Assert.That(report.Errors, Has.Some.Contains("'B'"));
        Assert.That(h.Tree("A", "docs"), Has.Count.EqualTo(3), "nothing deleted on A");
    }

    [Test]
    public async Task A_failing_service_does_not_stop_the_others()
    {
        var yaml = """
            name: three
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
              Broken: { driver: local_storage, options: { root: broken }, folders: { docs: docs } }
            """;
        await using var h = new SyncHarness(yaml);
        File.WriteAllText(Path.Combine(h.Root, "broken"), "a file where a directory should be");
        h.Write("A", "docs/f.txt", "reaches B");

        var report = await h.SyncAsync();

        Assert.That(h.Read("B", "docs/f.txt"), Is.EqualTo("reaches B"));
        Assert.That(report.Succeeded, Is.False);
        Assert.That(report.Errors, Has.Some.Contains("service 'Broken' is failing"));
        lock (h.Events)
        {
            Assert.That(h.Events.OfType<ServiceStateChanged>().Where(e => e.Service == "Broken" && e.State == ServiceState.Failing),
                Has.Some.Matches<ServiceStateChanged>(e => !string.IsNullOrEmpty(e.Reason)), "the failure is reported with its reason");
        }
    }
}
