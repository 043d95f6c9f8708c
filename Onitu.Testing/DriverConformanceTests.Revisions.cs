using NUnit.Framework;

namespace Onitu.Testing;

// What a handler writes back into the Metadata it was given: the revision, size and modification time of what it
// wrote, which must be what a later scan reports, or the engine takes the driver's own writes for someone else's.
public abstract partial class DriverConformanceTests
{
    /// <summary>
    /// UploadFile, EndUpload (when the driver is an <see cref="IChunkedWriter"/>) and MoveFile (when it is an
    /// <see cref="INativeMove"/>) set <see cref="Metadata.Revision"/> and <see cref="Metadata.Size"/> to those of what
    /// they wrote, and a fresh instance's scan reports the same revision.
    /// </summary>
    [Test]
    public virtual async Task Every_write_and_move_sets_the_revision_a_scan_reports()
    {
        var written = new List<(string Handler, Metadata After, int Size)>();

        var uploaded = Content(3001, 1100);
        var metadata = new Metadata(FolderName, "revisions/uploaded.bin") { Size = uploaded.Length, ModifiedAt = DateTimeOffset.UtcNow };
        using (var stream = new MemoryStream(uploaded, writable: false))
            await Probe.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
        written.Add(AssertWritten("UploadFileAsync", metadata, uploaded.Length));

        if (Probe is IChunkedWriter writer)
        {
            var chunk = writer.NegotiateChunkSize(65_537);
            var content = Content(chunk + 17, 1101);
            var chunked = new Metadata(FolderName, "revisions/chunked.bin") { Size = content.Length, ModifiedAt = DateTimeOffset.UtcNow };
            await writer.StartUploadAsync(chunked, Cancellation).ConfigureAwait(false);
            await writer.UploadChunkAsync(chunked, 0, content.AsMemory(0, chunk), Cancellation).ConfigureAwait(false);
            await writer.UploadChunkAsync(chunked, chunk, content.AsMemory(chunk), Cancellation).ConfigureAwait(false);
            await writer.EndUploadAsync(chunked, Cancellation).ConfigureAwait(false);
            written.Add(AssertWritten("EndUploadAsync", chunked, content.Length));
        }

        if (Probe is INativeMove mover)
        {
            var content = Content(777, 1102);
            await PutOnSubjectAsync("revisions/to-move.bin", content).ConfigureAwait(false);
            var destination = new Metadata(FolderName, "revisions/moved/there.bin");
            await mover.MoveFileAsync(ProbePlug.Known(FolderName, "revisions/to-move.bin"), destination, Cancellation).ConfigureAwait(false);
            written.Add(AssertWritten("MoveFileAsync", destination, content.Length));
        }

        var plug = CreateSubjectPlug();
        await CreateSubjectDriver(plug).ScanAsync(Cancellation).ConfigureAwait(false);
        foreach (var (handler, after, _) in written)
        {
            var scanned = plug.Known(FolderName, after.Path);
            Assert.That(scanned.Revision, Is.EqualTo(after.Revision),
                $"{handler} set the revision of '{after.Path}' to '{after.Revision}', but a scan of the unchanged file reports '{scanned.Revision}': the engine would take the driver's own write for a change");
        }
    }

    // Checked right after each handler: a later step (a move of what was written) depends on the revision being right.
    private static (string Handler, Metadata After, int Size) AssertWritten(string handler, Metadata after, int size)
    {
        Assert.That(after.Revision, Is.Not.Null.And.Not.Empty,
            $"{handler} left Metadata.Revision of '{after.Path}' unset: set it to the revision written, or the engine takes the driver's own write for a change by someone else (and refuses the next write)");
        Assert.That(after.Size, Is.EqualTo(size), $"{handler} left Metadata.Size of '{after.Path}' at {after.Size}, not the {size} bytes written");
        return (handler, after, size);
    }

    /// <summary>
    /// The modification time a write leaves in <see cref="Metadata.ModifiedAt"/> (the time given, for a store that keeps
    /// it, or the time of the write) is the one a later scan reports, to <see cref="DriverCapabilities.ModificationTimePrecision"/>;
    /// it is an instant, not a local time mistaken for UTC. Skipped for a driver that reports no modification times.
    /// </summary>
    [Test]
    public virtual async Task Modification_times_round_trip()
    {
        var precision = Capabilities.ModificationTimePrecision;
        var given = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(-3).Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var content = Content(1234, 1200);
        var metadata = new Metadata(FolderName, "times/file.txt") { Size = content.Length, ModifiedAt = given };
        var before = DateTimeOffset.UtcNow;
        using (var stream = new MemoryStream(content, writable: false))
            await Probe.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
        var after = DateTimeOffset.UtcNow;

        var plug = CreateSubjectPlug();
        await CreateSubjectDriver(plug).ScanAsync(Cancellation).ConfigureAwait(false);
        var scanned = plug.Known(FolderName, "times/file.txt").ModifiedAt;
        if (scanned is null)
            Assert.Ignore("The driver under test reports no modification times (Metadata.ModifiedAt is null in its scan).");

        var written = metadata.ModifiedAt;
        Assert.That(written, Is.Not.Null, "UploadFileAsync cleared Metadata.ModifiedAt, though a scan reports modification times");
        var keptGiven = (written!.Value - given).Duration() <= precision;
        var timeOfWrite = written.Value >= before - precision - Capabilities.ClockSkew && written.Value <= after + precision + Capabilities.ClockSkew;
        Assert.That(keptGiven || timeOfWrite, Is.True,
            $"After UploadFileAsync, Metadata.ModifiedAt of 'times/file.txt' is {written:O}: neither the time given ({given:O}) nor the time of the write " +
            $"({before:O} to {after:O}, give or take {Capabilities.ClockSkew}). A local time taken for UTC, or a unit error, looks like this.");
        Assert.That((scanned.Value - written.Value).Duration(), Is.LessThanOrEqualTo(precision),
            $"UploadFileAsync left Metadata.ModifiedAt of 'times/file.txt' at {written:O} but a scan reports {scanned:O}: the store's time must round-trip (to {precision})");
    }
}
