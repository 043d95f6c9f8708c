using Onitu.State;
using Onitu.Sync;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>
/// A deletion is reported with the revision the service no longer has: when the state records another revision
/// there (the engine wrote a new content since the report was made), the report is stale and deletes nothing.
/// </summary>
public class StaleDeletionTests : ChangeProcessorTest
{
    private static readonly Guid Fid = FileId.Compute("docs", "notes.txt");

    // Version 3 (T's edit) is everywhere; N held version 2 at "rev-n2" before the engine wrote version 3 there.
    private static void Seed(StoreTransaction tx)
    {
        tx.UpsertFile(new FileRecord(Fid, "docs", "notes.txt", 16, "text/plain", 3, "T", null, Deleted: false));
        tx.UpsertReplica(new ReplicaRecord(Fid, "A", 3, "rev-a3", null));
        tx.UpsertReplica(new ReplicaRecord(Fid, "N", 3, "rev-n3", null));
        tx.UpsertReplica(new ReplicaRecord(Fid, "T", 3, "rev-t3", null));
    }

    [Test]
    public async Task The_deletion_of_a_revision_the_engine_has_since_overwritten_deletes_nothing()
    {
        // Found by LaterWriteTests (about 1 run in 8): the check of a transfer's source on N found it gone between the
        // engine's move of N's losing content aside and the write of the winning version there, and reported N's
        // deletion of "rev-n2" after the write had been recorded. The winning content was deleted from A and T.
        var processor = ProcessorFor("A", "N", "T");
        await using var store = OpenStore();
        await store.WriteAsync(Seed);

        var outcome = await store.WriteAsync(tx =>
            processor.ApplyDelete(tx, "N", new Onitu.Metadata("docs", "notes.txt") { Size = 16, Revision = "rev-n2" }));

        var (file, jobs, held) = await store.WriteAsync(tx => (tx.GetFile(Fid)!, tx.GetJobs(Fid), tx.GetReplica(Fid, "N")!));
        Assert.Multiple(() =>
        {
            Assert.That(outcome.HasWork, Is.False);
            Assert.That(file, Has.Property(nameof(FileRecord.Deleted)).False.And.Property(nameof(FileRecord.Version)).EqualTo(3));
            Assert.That(jobs, Is.Empty, "no deletion sent anywhere");
            Assert.That(held.Revision, Is.EqualTo("rev-n3"), "N still holds what the engine wrote");
        });
    }

    [TestCase("rev-n3")]
    [TestCase(null)]
    public async Task The_deletion_of_the_revision_held_or_of_an_unnamed_one_is_propagated(string? revision)
    {
        var processor = ProcessorFor("A", "N", "T");
        await using var store = OpenStore();
        await store.WriteAsync(Seed);

        await store.WriteAsync(tx => processor.ApplyDelete(tx, "N", new Onitu.Metadata("docs", "notes.txt") { Revision = revision }));

        var (file, jobs) = await store.WriteAsync(tx => (tx.GetFile(Fid)!, tx.GetJobs(Fid)));
        Assert.Multiple(() =>
        {
            Assert.That(file.Deleted, Is.True);
            Assert.That(jobs.Where(j => j.Kind == JobKind.Delete).Select(j => j.Target), Is.EquivalentTo(new[] { "A", "T" }));
        });
    }
}
