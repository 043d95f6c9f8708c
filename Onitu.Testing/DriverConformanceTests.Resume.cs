using NUnit.Framework;

namespace Onitu.Testing;

// Chunked transfers called directly: resumed uploads and chunked reads.
public abstract partial class DriverConformanceTests
{
    /// <summary>
    /// An upload interrupted mid-transfer resumes at its offset on a new driver instance (StartUpload, chunks, a new
    /// instance, RestartUpload at the offset, the remaining chunks, EndUpload) and ends with exactly the bytes sent.
    /// </summary>
    [Test]
    public virtual async Task Interrupted_upload_restarts_at_its_offset()
    {
        var writer = Require<IChunkedWriter>(Probe);
        var chunk = writer.NegotiateChunkSize(65_537);
        Assert.That(chunk, Is.Positive, "NegotiateChunkSize must return a positive size");
        var content = Content(chunk * 5 + 1234, 400);
        var metadata = new Metadata(FolderName, "resumed/file.bin") { Size = content.Length, ModifiedAt = DateTimeOffset.UtcNow };

        await writer.StartUploadAsync(metadata, Cancellation).ConfigureAwait(false);
        long offset = 0;
        for (var i = 0; i < 2; i++, offset += chunk)
            await writer.UploadChunkAsync(metadata, offset, content.AsMemory((int)offset, chunk), Cancellation).ConfigureAwait(false);
        await Probe.DisposeAsync().ConfigureAwait(false);

        // A new process: a new instance, the same state store, the same storage.
        var resumedMetadata = new Metadata(FolderName, "resumed/file.bin") { Size = content.Length, ModifiedAt = metadata.ModifiedAt };
        var resumed = (IChunkedWriter)CreateSubjectDriver(CreateSubjectPlug());
        await resumed.RestartUploadAsync(resumedMetadata, offset, Cancellation).ConfigureAwait(false);
        for (; offset < content.Length; offset += chunk)
        {
            var length = (int)Math.Min(chunk, content.Length - offset);
            await resumed.UploadChunkAsync(resumedMetadata, offset, content.AsMemory((int)offset, length), Cancellation).ConfigureAwait(false);
        }
        await resumed.EndUploadAsync(resumedMetadata, Cancellation).ConfigureAwait(false);

        var reader = CreateSubjectDriver(CreateSubjectPlug());
        var stream = await reader.OpenReadAsync(new Metadata(FolderName, "resumed/file.bin"), Cancellation).ConfigureAwait(false);
        await using var disposeStream = stream.ConfigureAwait(false);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
        AssertSameContent(content, copy.ToArray(), "resumed/file.bin", "the driver under test after a resumed upload");
    }

    /// <summary>
    /// RestartUpload discards what the interrupted upload wrote past the offset: chunks 0 and 1 of the file and a
    /// third chunk the engine never recorded are written, a new instance restarts at the end of chunk 1 and sends the
    /// short rest, and the file is exactly the content sent (no tail of the unrecorded chunk).
    /// </summary>
    [Test]
    public virtual async Task A_restarted_upload_discards_bytes_past_its_offset()
    {
        var writer = Require<IChunkedWriter>(Probe);
        var chunk = writer.NegotiateChunkSize(65_537);
        const string path = "resumed/shorter.bin";
        var content = Content(chunk * 2 + 100, 420);
        var metadata = new Metadata(FolderName, path) { Size = content.Length, ModifiedAt = DateTimeOffset.UtcNow };

        await writer.StartUploadAsync(metadata, Cancellation).ConfigureAwait(false);
        await writer.UploadChunkAsync(metadata, 0, content.AsMemory(0, chunk), Cancellation).ConfigureAwait(false);
        await writer.UploadChunkAsync(metadata, chunk, content.AsMemory(chunk, chunk), Cancellation).ConfigureAwait(false);
        // Written, but the crash came before the engine saved its offset: after the restart it is sent again, shorter.
        await writer.UploadChunkAsync(metadata, 2L * chunk, Content(chunk, 421), Cancellation).ConfigureAwait(false);
        await Probe.DisposeAsync().ConfigureAwait(false);

        var resumedMetadata = new Metadata(FolderName, path) { Size = content.Length, ModifiedAt = metadata.ModifiedAt };
        var resumed = (IChunkedWriter)CreateSubjectDriver(CreateSubjectPlug());
        await resumed.RestartUploadAsync(resumedMetadata, 2L * chunk, Cancellation).ConfigureAwait(false);
        await resumed.UploadChunkAsync(resumedMetadata, 2L * chunk, content.AsMemory(2 * chunk), Cancellation).ConfigureAwait(false);
        await resumed.EndUploadAsync(resumedMetadata, Cancellation).ConfigureAwait(false);

        var reader = CreateSubjectDriver(CreateSubjectPlug());
        var stream = await reader.OpenReadAsync(new Metadata(FolderName, path), Cancellation).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
            AssertSameContent(content, copy.ToArray(), path,
                $"the driver under test after RestartUploadAsync at offset {2L * chunk} (bytes written past the offset before the restart must be discarded)");
        }
        if (Area.View is { } view)
            AssertSameContent(content, await view.ReadAsync(path, Cancellation).ConfigureAwait(false), path, "the store, through the area's independent view, after a restarted upload");
    }

    /// <summary>ReadChunk at odd offsets and lengths returns exactly those bytes, and 0 past the end.</summary>
    [Test]
    public virtual async Task Reads_chunks_at_odd_offsets()
    {
        var reader = Require<IChunkedReader>(Probe);
        var content = Content(100_003, 410);
        await PutOnSubjectAsync("chunks.bin", content).ConfigureAwait(false);
        var metadata = ProbePlug.Known(FolderName, "chunks.bin");
        foreach (var (offset, length) in new[] { (0, 4099), (1, 1), (4099, 33_333), (65_537, 34_466), (99_999, 4), (100_000, 3) })
        {
            var buffer = new byte[length];
            var read = 0;
            while (read < length)
            {
                var n = await reader.ReadChunkAsync(metadata, offset + read, buffer.AsMemory(read), Cancellation).ConfigureAwait(false);
                if (n == 0)
                    break;
                read += n;
            }
            AssertSameContent(content.AsSpan(offset, length).ToArray(), buffer[..read], $"chunks.bin [{offset}, {offset + length})",
                "the driver under test (ReadChunk)");
        }
        var past = await reader.ReadChunkAsync(metadata, content.Length, new byte[10], Cancellation).ConfigureAwait(false);
        Assert.That(past, Is.Zero, "ReadChunk at the end of the file must return 0");
    }

}
