using Onitu.State;
using Onitu.Sync;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>
/// Which content of a conflict keeps the name when one of them can only be kept aside on some services: the one that
/// can be kept aside is the one moved there, so that both survive, in the order the reports arrive that once lost one.
/// </summary>
public class ConflictKeepingTests : ChangeProcessorTest
{
    private static readonly DateTimeOffset Base = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task A_later_edit_against_a_read_only_services_edit_is_the_content_kept_aside()
    {
        var processor = ProcessorFor(("A", "{ path: ., mode: r }"), ("B", "."), ("C", "."));
        await using var store = OpenStore();
        var fid = await SeedAsync(store, "A", "B", "C");

        // A's edit is reported first and becomes the current version; B's later edit, made before it received it, is
        // the conflict. A's content lives on A only, which is never written: it cannot be moved aside there.
        await store.WriteAsync(tx => processor.ApplyUpdate(tx, "A", Edit("rev-a2", 11, Base.AddMinutes(1))));
        var outcome = await store.WriteAsync(tx => processor.ApplyUpdate(tx, "B", Edit("rev-b2", 12, Base.AddMinutes(2))));

        var jobs = await store.WriteAsync(tx => tx.GetJobs(fid));
        var toB = jobs.Single(j => j.Target == "B");
        Assert.Multiple(() =>
        {
            Assert.That(toB.Kind, Is.EqualTo(JobKind.Upload), "B receives A's content...");
            Assert.That(toB.PreserveAs, Does.StartWith("f.conflict-B-"), "...once its own is kept aside");
            Assert.That(jobs.Select(j => j.Target), Has.None.EqualTo("A"), "nothing is written on A");
            Assert.That(outcome.Events.OfType<ConflictDetected>().Single().LosingService, Is.EqualTo("B"));
        });
    }

    [Test]
    public async Task A_later_edit_that_the_other_services_rules_refuse_is_the_content_kept_aside()
    {
        var processor = ProcessorFor(("A", "."), ("B", "{ path: ., max-size: 10 }"), ("C", "."));
        await using var store = OpenStore();
        var fid = await SeedAsync(store, "A", "B", "C");

        // B's small edit is current; A's later one is too large for B, so B could never move its own content aside
        // for it: A's content is the one kept aside, and A receives B's.
        await store.WriteAsync(tx => processor.ApplyUpdate(tx, "B", Edit("rev-b2", 5, Base.AddMinutes(1))));
        var outcome = await store.WriteAsync(tx => processor.ApplyUpdate(tx, "A", Edit("rev-a2", 50, Base.AddMinutes(2))));

        var jobs = await store.WriteAsync(tx => tx.GetJobs(fid));
        var toA = jobs.Single(j => j.Target == "A");
        Assert.Multiple(() =>
        {
            Assert.That(toA.PreserveAs, Does.StartWith("f.conflict-A-"));
            Assert.That(jobs.Select(j => j.Target), Has.None.EqualTo("B"), "B takes nothing over its limit");
            Assert.That(outcome.Events.OfType<ConflictDetected>().Single().LosingService, Is.EqualTo("A"));
        });
    }

    [Test]
    public async Task When_neither_content_can_be_kept_aside_no_conflict_copy_is_announced()
    {
        // A is only read from, and B's rules refuse A's content: neither can hold the other's.
        var processor = ProcessorFor(("A", "{ path: ., mode: r }"), ("B", "{ path: ., max-size: 10 }"));
        await using var store = OpenStore();
        var fid = await SeedAsync(store, "A", "B");

        await store.WriteAsync(tx => processor.ApplyUpdate(tx, "A", Edit("rev-a2", 50, Base.AddMinutes(1))));
        var outcome = await store.WriteAsync(tx => processor.ApplyUpdate(tx, "B", Edit("rev-b2", 5, Base.AddMinutes(2))));

        var jobs = await store.WriteAsync(tx => tx.GetJobs(fid));
        Assert.Multiple(() =>
        {
            Assert.That(outcome.Events.OfType<ConflictDetected>(), Is.Empty);
            Assert.That(outcome.ConflictsKeptInPlace, Has.Count.EqualTo(1));
            Assert.That(jobs, Is.Empty, "each content stays where it is");
        });
    }

    /// <summary><c>f.txt</c>, version 1 from A, held by every service given.</summary>
    private static async Task<Guid> SeedAsync(MetadataStore store, params string[] holders)
    {
        var fid = FileId.Compute("docs", "f.txt");
        await store.WriteAsync(tx =>
        {
            tx.UpsertFile(new FileRecord(fid, "docs", "f.txt", 4, "text/plain", 1, "A", Base, Deleted: false));
            foreach (var holder in holders)
                tx.UpsertReplica(new ReplicaRecord(fid, holder, 1, "rev-1-" + holder, null));
        });
        return fid;
    }

    private static Onitu.Metadata Edit(string revision, long size, DateTimeOffset modified) =>
        new("docs", "f.txt") { Size = size, Revision = revision, ModifiedAt = modified };
}
