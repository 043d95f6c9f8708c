using Onitu.State;
using Onitu.Sync;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>How a conflict's losing content, kept under its conflict name, is recorded in the state.</summary>
public class PreserveTests : ChangeProcessorTest
{
    [Test]
    public async Task A_copy_kept_while_the_file_got_a_new_version_is_not_kept_again_by_the_rewritten_job()
    {
        const string conflictPath = "x/y.conflict-B-20261127-130936-2.txt";
        var processor = ProcessorFor("A", "B", "C");
        await using var store = OpenStore();
        var fid = FileId.Compute("docs", "x/y.txt");
        var file = new FileRecord(fid, "docs", "x/y.txt", 21, "text/plain", 2, "A", DateTimeOffset.UtcNow, Deleted: false);

        // The upload of the winner to B first keeps B's losing content under the conflict name.
        var running = await store.WriteAsync(tx =>
        {
            tx.UpsertFile(file);
            tx.UpsertReplica(new ReplicaRecord(fid, "A", 2, "rev-a", null));
            tx.UpsertReplica(new ReplicaRecord(fid, "B", 1, "rev-b", null));
            tx.PutJob(fid, "B", JobKind.Upload, 2, preserveAs: conflictPath);
            return tx.GetJob(fid, "B")!;
        });
        // While B's content is being moved aside, the file gets a new version: the job is rewritten, the plan kept.
        await store.WriteAsync(tx =>
        {
            tx.UpsertFile(file with { Version = 3 });
            tx.UpsertReplica(new ReplicaRecord(fid, "A", 3, "rev-a2", null));
            tx.PutJob(fid, "B", JobKind.Upload, 3);
        });
        var kept = new Onitu.Metadata("docs", conflictPath) { Size = 21, Revision = "rev-kept" };
        await store.WriteAsync(tx => processor.CompletePreserve(tx, running, kept, movedAway: true));

        var job = await store.WriteAsync(tx => tx.GetJob(fid, "B"));
        Assert.Multiple(() =>
        {
            Assert.That(job, Is.Not.Null, "B still has to receive version 3");
            Assert.That(job!.Version, Is.EqualTo(3));
            // Moving B's next copy onto the kept one would be refused at every attempt: the destination exists.
            Assert.That(job.PreserveAs, Is.Null, "the conflict copy is kept already");
        });
    }

    [TestCase(".bin")]
    [TestCase("")] // a file without an extension, whose copies are named after it too (seed 3063171887238882921)
    public async Task A_conflict_copy_name_planned_for_another_file_is_not_given_again(string extension)
    {
        var stamp = new DateTimeOffset(2026, 11, 27, 13, 9, 36, TimeSpan.Zero);
        var copyPath = "b.conflict-A-20261127-130936" + extension;
        var planned = "b.conflict-A-20261127-130936-2" + extension;
        var processor = ProcessorFor("A", "B", "C");
        await using var store = OpenStore();
        var original = FileId.Compute("docs", "b" + extension);
        var copy = FileId.Compute("docs", copyPath);
        await store.WriteAsync(tx =>
        {
            // b.bin: C's content won over A's, which its upload to A first keeps under the -2 name (the plain one is taken).
            tx.UpsertFile(new FileRecord(original, "docs", "b" + extension, 19, "application/octet-stream", 2, "C", stamp.AddMilliseconds(500), Deleted: false));
            tx.UpsertReplica(new ReplicaRecord(original, "C", 2, "rev-c", null));
            tx.UpsertReplica(new ReplicaRecord(original, "A", 0, "rev-a", null));
            tx.PutJob(original, "A", JobKind.Upload, 2, preserveAs: planned);
            // An older conflict copy of b.bin, held by B.
            tx.UpsertFile(new FileRecord(copy, "docs", copyPath, 19, "application/octet-stream", 1, "B", stamp.AddMilliseconds(900), Deleted: false));
            tx.UpsertReplica(new ReplicaRecord(copy, "B", 1, "rev-b", null));
        });

        // A has another, older content under the copy's name: a conflict on the copy, A's content the loser, named
        // after b.bin by the same service in the same second.
        var reported = new Onitu.Metadata("docs", copyPath) { Size = 20, Revision = "rev-a-copy", ModifiedAt = stamp.AddMilliseconds(100) };
        await store.WriteAsync(tx => processor.ApplyUpdate(tx, "A", reported));

        var job = await store.WriteAsync(tx => tx.GetJob(copy, "A"));
        Assert.That(job?.PreserveAs, Is.EqualTo("b.conflict-A-20261127-130936-3" + extension), "the -2 name is planned for b.bin's losing content");
    }
}
