using NUnit.Framework;

namespace Onitu.Testing;

// Compare-and-swap: a write, an upload's end, a move or a delete given a revision the store no longer holds refuses
// with ContentChangedException and reports what the store holds (IPlug.UpdateFileAsync) instead of destroying it.
public abstract partial class DriverConformanceTests
{
    /// <summary>
    /// UploadFile given the revision the file had before another client changed it throws
    /// <see cref="ContentChangedException"/>, reports the new revision, and leaves the other client's content.
    /// </summary>
    [Test]
    public virtual async Task A_write_over_a_changed_file_is_refused_and_the_change_reported()
    {
        const string path = "cas/write.txt";
        await PutOnSubjectAsync(path, Content(100, 1000)).ConfigureAwait(false);
        var stale = ProbePlug.Known(FolderName, path);
        var theirs = Content(237, 1001);
        await ChangeBehindTheDriverAsync(path, theirs).ConfigureAwait(false);

        var ours = Content(555, 1002);
        stale.Size = ours.Length;
        stale.ModifiedAt = DateTimeOffset.UtcNow;
        var refusal = await CatchAsync(async () =>
        {
            using var stream = new MemoryStream(ours, writable: false);
            await Probe.UploadFileAsync(stale, stream, Cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);

        await AssertRefusedAsync(refusal, "UploadFileAsync", path, stale.Revision, theirs).ConfigureAwait(false);
    }

    /// <summary>
    /// UploadFile given no revision (the engine believes the service does not hold the file) does not replace a file
    /// another client created meanwhile: it throws <see cref="ContentChangedException"/> and reports that file.
    /// </summary>
    [Test]
    public virtual async Task A_write_where_the_engine_expects_no_file_does_not_replace_one_it_never_saw()
    {
        const string path = "cas/unseen.txt";
        var theirs = Content(321, 1010);
        await ChangeBehindTheDriverAsync(path, theirs).ConfigureAwait(false);

        var ours = Content(123, 1011);
        var metadata = new Metadata(FolderName, path) { Size = ours.Length, ModifiedAt = DateTimeOffset.UtcNow };
        var refusal = await CatchAsync(async () =>
        {
            using var stream = new MemoryStream(ours, writable: false);
            await Probe.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
        }).ConfigureAwait(false);

        await AssertRefusedAsync(refusal, "UploadFileAsync (with no revision)", path, expectedRevision: null, theirs).ConfigureAwait(false);
    }

    /// <summary>
    /// A chunked upload started over revision r, whose file another client changes before it ends, is refused by
    /// EndUpload with <see cref="ContentChangedException"/>; the change is reported and the other content stays.
    /// </summary>
    [Test]
    public virtual async Task A_chunked_upload_over_a_changed_file_is_refused_at_its_end()
    {
        var writer = Require<IChunkedWriter>(Probe);
        const string path = "cas/chunked.bin";
        await PutOnSubjectAsync(path, Content(1000, 1020)).ConfigureAwait(false);
        var stale = ProbePlug.Known(FolderName, path);
        var chunk = writer.NegotiateChunkSize(65_537);
        var ours = Content(chunk * 2 + 99, 1021);
        stale.Size = ours.Length;
        stale.ModifiedAt = DateTimeOffset.UtcNow;

        await writer.StartUploadAsync(stale, Cancellation).ConfigureAwait(false);
        for (var offset = 0; offset < ours.Length; offset += chunk)
            await writer.UploadChunkAsync(stale, offset, ours.AsMemory(offset, Math.Min(chunk, ours.Length - offset)), Cancellation).ConfigureAwait(false);
        var theirs = Content(2345, 1022);
        await ChangeBehindTheDriverAsync(path, theirs).ConfigureAwait(false);
        var refusal = await CatchAsync(async () => await writer.EndUploadAsync(stale, Cancellation).ConfigureAwait(false)).ConfigureAwait(false);

        await AssertRefusedAsync(refusal, "EndUploadAsync", path, stale.Revision, theirs).ConfigureAwait(false);
    }

    /// <summary>
    /// MoveFile of a source another client changed since its revision throws <see cref="ContentChangedException"/>,
    /// reports the source's new revision, and moves nothing.
    /// </summary>
    [Test]
    public virtual async Task A_move_of_a_changed_file_is_refused_and_the_change_reported()
    {
        var mover = Require<INativeMove>(Probe);
        const string path = "cas/move-me.txt";
        await PutOnSubjectAsync(path, Content(400, 1030)).ConfigureAwait(false);
        var stale = ProbePlug.Known(FolderName, path);
        var theirs = Content(444, 1031);
        await ChangeBehindTheDriverAsync(path, theirs).ConfigureAwait(false);

        var destination = new Metadata(FolderName, "cas/moved/here.txt");
        var refusal = await CatchAsync(async () => await mover.MoveFileAsync(stale, destination, Cancellation).ConfigureAwait(false)).ConfigureAwait(false);

        await AssertRefusedAsync(refusal, "MoveFileAsync", path, stale.Revision, theirs).ConfigureAwait(false);
        if (await ReadFromSubjectAsync(destination.Path).ConfigureAwait(false) is { } moved)
            Assert.Fail($"MoveFileAsync refused the move of '{path}' but '{destination.Path}' exists ({moved.Length} bytes): a refused move must move nothing.");
    }

    /// <summary>
    /// DeleteFile of a file another client changed since its revision throws <see cref="ContentChangedException"/>,
    /// reports the new revision, and deletes nothing: an edit beats a deletion.
    /// </summary>
    [Test]
    public virtual async Task A_delete_of_a_changed_file_is_refused_and_the_change_reported()
    {
        const string path = "cas/delete-me.txt";
        await PutOnSubjectAsync(path, Content(60, 1040)).ConfigureAwait(false);
        var stale = ProbePlug.Known(FolderName, path);
        var theirs = Content(66, 1041);
        await ChangeBehindTheDriverAsync(path, theirs).ConfigureAwait(false);

        var refusal = await CatchAsync(async () => await Probe.DeleteFileAsync(stale, Cancellation).ConfigureAwait(false)).ConfigureAwait(false);

        await AssertRefusedAsync(refusal, "DeleteFileAsync", path, stale.Revision, theirs).ConfigureAwait(false);
    }

    /// <summary>DeleteFile of a file that is not there (any more) returns quietly: deleting is idempotent.</summary>
    [Test]
    public virtual async Task Deleting_a_missing_file_is_not_an_error()
    {
        var e = await CatchAsync(async () =>
            await Probe.DeleteFileAsync(new Metadata(FolderName, "never/there.txt") { Revision = "gone" }, Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
        Assert.That(e, Is.Null, $"DeleteFileAsync of a missing file threw {e?.GetType().Name}: {e?.Message}");
    }

    private static async Task<Exception?> CatchAsync(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return e;
        }
    }

    /// <summary>
    /// Fails unless <paramref name="refusal"/> is a <see cref="ContentChangedException"/>, the driver reported a revision
    /// other than <paramref name="expectedRevision"/> for the file before throwing, and the file still holds
    /// <paramref name="theirs"/>.
    /// </summary>
    private async Task AssertRefusedAsync(Exception? refusal, string handler, string path, string? expectedRevision, byte[] theirs)
    {
        var given = expectedRevision is null ? "no revision (the engine believes there is no file)" : $"revision '{expectedRevision}'";
        if (refusal is not ContentChangedException)
        {
            var outcome = refusal is null ? "returned normally" : $"threw {refusal.GetType().Name}: {refusal.Message}";
            Assert.Fail($"{handler} of '{path}', given {given} after another client changed the file, {outcome}. " +
                        "It must not destroy a version the engine has not seen: report the file through IPlug.UpdateFileAsync and throw ContentChangedException." +
                        $"\nThe file now: {Describe(theirs, await ReadFromSubjectAsync(path).ConfigureAwait(false)) ?? "still the other client's content"}");
        }
        var reported = ProbePlug.Known(FolderName, path).Revision;
        Assert.That(reported, Is.Not.Null.And.Not.Empty.And.Not.EqualTo(expectedRevision),
            $"{handler} refused '{path}' with ContentChangedException but did not report the file's new revision through IPlug.UpdateFileAsync first " +
            $"(the engine would retry against the same stale revision forever). Reports:\n  {string.Join("\n  ", ProbePlug.Reports)}");
        await AssertOnSubjectAsync(path, theirs).ConfigureAwait(false);
    }
}
