namespace Onitu.Core.Tests.Engine;

/// <summary>
/// "Later write wins" compares the times each store gave its own write; a write whose time its store does not know
/// is not stamped with the engine's clock (which would make it win or lose by when its report happened to arrive):
/// it loses to a timed write, and two writes without times, like equal times, are decided by the services' names.
/// </summary>
public class LaterWriteTests
{
    private const string Setup = """
        name: test
        folders:
          docs: {}
        services:
          A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
          N: { driver: timeless_storage, options: { root: N }, folders: { docs: docs } }
          T: { driver: timeless_storage, options: { root: T }, folders: { docs: docs } }
        """;

    private static SyncHarness Create()
    {
        var h = new SyncHarness(Setup);
        h.ExtraDrivers.Add(new TimelessStorageFactory());
        return h;
    }

    private static string ConflictCopy(SyncHarness h, string service) =>
        Directory.GetFiles(h.PathOf(service, "docs"), "notes.conflict-*").Select(Path.GetFileName).Single()!;

    [Test]
    public async Task A_write_with_a_store_time_beats_one_whose_store_keeps_no_time_however_old()
    {
        await using var h = Create();
        // A's write is years old; N's has no time its store could give. Different sizes: a conflict, not the same file.
        h.Write("A", "docs/notes.txt", "A's old edit", new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        h.Write("N", "docs/notes.txt", "N's timeless edit, longer");

        await h.SyncExpectingSuccessAsync();

        foreach (var service in new[] { "A", "N", "T" })
        {
            Assert.That(h.Read(service, "docs/notes.txt"), Is.EqualTo("A's old edit"), $"the timed write keeps the name on {service}");
            Assert.That(ConflictCopy(h, service), Does.StartWith("notes.conflict-N-"), $"N's write is kept beside it on {service}");
        }
        var conflict = h.Events.OfType<ConflictDetected>().Single();
        Assert.That(conflict.LosingService, Is.EqualTo("N"));
    }

    [Test]
    public async Task Two_concurrent_writes_without_times_are_decided_by_the_services_names()
    {
        // Both edit the version they hold; which report arrives first varies from run to run, the winner must not.
        for (var round = 0; round < 3; round++)
        {
            await using var h = Create();
            h.Write("A", "docs/notes.txt", "the first version", new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            await h.SyncExpectingSuccessAsync();
            h.Write("N", "docs/notes.txt", "N's edit, longer");
            h.Write("T", "docs/notes.txt", "T's edit, longer");
            await h.SyncExpectingSuccessAsync();

            foreach (var service in new[] { "A", "N", "T" })
            {
                Assert.That(h.Read(service, "docs/notes.txt"), Is.EqualTo("T's edit, longer"), $"round {round}: T (greater by name) keeps the name on {service}");
                Assert.That(ConflictCopy(h, service), Does.StartWith("notes.conflict-N-"), $"round {round}: N's write kept on {service}");
            }
        }
    }

    [Test]
    public async Task A_copy_of_the_losing_write_landed_on_a_timed_store_does_not_decide_the_conflict()
    {
        // The order a loaded machine once produced: N's report first; its version lands on A, whose driver reads an
        // upload to its size only (so the source is checked after the copy landed); T's report makes T's write the
        // current one; N's own write is moved aside to its conflict name before the engine checks the source of A's
        // copy. That copy, not recorded, was then refused by the next upload as an edit of A's, stamped with A's time,
        // and won over T's.
        var setup = Setup.Replace("A: { driver: local_storage", "A: { driver: landing_storage", StringComparison.Ordinal);
        await using var h = new SyncHarness(setup);
        var timeless = new TimelessStorageFactory();
        var landing = new SourceChangedAfterCopyTests.LandingFactory();
        h.ExtraDrivers.AddRange([timeless, landing]);
        h.Write("A", "docs/notes.txt", "the first version", new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        await h.SyncExpectingSuccessAsync();

        var landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        timeless.BeforeUpdate = async (service, metadata) =>
        {
            if (service == "T" && metadata.Path == "notes.txt")
                await landed.Task.WaitAsync(SyncHarness.Timeout());
        };
        landing.AfterLanding = () =>
        {
            landed.TrySetResult();
            var deadline = DateTime.UtcNow + SyncHarness.Timeout();
            while (Directory.GetFiles(h.PathOf("N", "docs"), "notes.conflict-*").Length == 0 && DateTime.UtcNow < deadline)
                Thread.Sleep(10);
        };
        h.Write("N", "docs/notes.txt", "N's edit, longer");
        h.Write("T", "docs/notes.txt", "T's edit, longer");
        await h.SyncExpectingSuccessAsync();

        Assert.That(landing.Landed, Is.True, "N's version landed on A");
        foreach (var service in new[] { "A", "N", "T" })
        {
            Assert.That(h.Read(service, "docs/notes.txt"), Is.EqualTo("T's edit, longer"), $"T (greater by name) keeps the name on {service}");
            Assert.That(ConflictCopy(h, service), Does.StartWith("notes.conflict-N-"), $"N's write kept on {service}, and no other copy");
        }
    }

    [Test]
    public void The_order_is_total_and_symmetric()
    {
        var t = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        (DateTimeOffset?, string)[] writes = [(t, "A"), (t, "B"), (t.AddSeconds(1), "A"), (null, "A"), (null, "B")];
        foreach (var a in writes)
        {
            foreach (var b in writes)
            {
                var ab = Onitu.Sync.LaterWrite.Compare(a.Item1, a.Item2, b.Item1, b.Item2);
                var ba = Onitu.Sync.LaterWrite.Compare(b.Item1, b.Item2, a.Item1, a.Item2);
                Assert.That(Math.Sign(ab), Is.EqualTo(-Math.Sign(ba)), $"{a} vs {b}");
                Assert.That(ab == 0, Is.EqualTo(a == b), $"{a} vs {b}: only a write equals itself");
            }
        }
        Assert.That(Onitu.Sync.LaterWrite.Compare(null, "Z", t, "A"), Is.Negative, "an unknown time loses to a known one");
        Assert.That(Onitu.Sync.LaterWrite.Compare(t, "B", t, "A"), Is.Positive, "equal times: the greater name");
    }
}
