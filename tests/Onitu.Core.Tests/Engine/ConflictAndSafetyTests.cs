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
