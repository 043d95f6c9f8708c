using NUnit.Framework;

namespace Onitu.Testing;

// Handlers called concurrently, and a newer version arriving during a transfer.
public abstract partial class DriverConformanceTests
{
    /// <summary>
    /// A newer version written on the reference while its previous version is being transferred (slowed by a
    /// bandwidth limit) ends on the driver under test, never the older one or a mix.
    /// </summary>
    [Test]
    public virtual async Task A_newer_version_during_a_transfer_wins()
    {
        CreateEngine(o =>
        {
            o.ChunkSize = 65_537;
            o.BandwidthLimit = 2 * 1024 * 1024;
        });
        await StartLiveAsync().ConfigureAwait(false);
        WriteReference("busy.bin", Content(1024 * 1024, 500));
        await EventuallyAsync(async () => (await Engine.GetProgressAsync().ConfigureAwait(false)).ActiveTransfers > 0 || Events.OfType<FileSynced>().Any(),
            "the first version's transfer to start").ConfigureAwait(false);
        var last = Content(700 * 1024 + 3, 501);
        WriteReference("busy.bin", last);
        await EventuallyAsync(async () => await ReadFromSubjectAsync("busy.bin").ConfigureAwait(false) is { } c && c.AsSpan().SequenceEqual(last),
            "the newest version of busy.bin on the driver under test",
            state: async () => "found: " + (Describe(last, await ReadFromSubjectAsync("busy.bin").ConfigureAwait(false)) ?? "equal")).ConfigureAwait(false);
    }

    /// <summary>Many concurrent UploadFile calls on different files, then many concurrent OpenRead/ReadChunk calls (handlers must be thread-safe).</summary>
    [Test]
    public virtual async Task Concurrent_handler_calls_on_different_files()
    {
        var n = Capabilities.Concurrency;
        var files = Enumerable.Range(0, n).Select(i => ($"concurrent/file-{i:D2}.bin", Content(10_000 + i * 517, 600 + i))).ToArray();
        var driver = Probe;
        var uploads = await Task.WhenAll(files.Select(f => Task.Run(async () =>
        {
            var metadata = new Metadata(FolderName, f.Item1) { Size = f.Item2.Length, ModifiedAt = DateTimeOffset.UtcNow };
            using var stream = new MemoryStream(f.Item2, writable: false);
            try
            {
                await driver.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !Cancellation.IsCancellationRequested)
            {
                return $"'{f.Item1}': UploadFile threw {e.GetType().Name}: {e.Message}";
            }
        }, Cancellation))).ConfigureAwait(false);

        var reads = await Task.WhenAll(files.Select((f, i) => Task.Run(async () =>
        {
            try
            {
                return Describe(f.Item2, await ReadConcurrentlyAsync(driver, f.Item1, f.Item2.Length, chunked: i % 2 == 1).ConfigureAwait(false)) is { } d
                    ? $"'{f.Item1}': {d}"
                    : null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !Cancellation.IsCancellationRequested)
            {
                return $"'{f.Item1}': {(i % 2 == 1 ? "ReadChunk" : "OpenRead")} threw {e.GetType().Name}: {e.Message}";
            }
        }, Cancellation))).ConfigureAwait(false);
        var failures = uploads.Concat(reads).OfType<string>().ToList();
        Assert.That(failures, Is.Empty,
            $"After {n} concurrent uploads and reads of different files, {failures.Count} call(s) failed or file(s) differ on the driver under test (handlers must be thread-safe)");
    }

    /// <summary>Many concurrent reads of one file all return it; concurrent uploads of one file leave exactly one of the versions sent.</summary>
    [Test]
    public virtual async Task Concurrent_handler_calls_on_the_same_file()
    {
        var n = Capabilities.Concurrency;
        var content = Content(50_000, 700);
        await PutOnSubjectAsync("same.bin", content).ConfigureAwait(false);
        var driver = Probe;
        var reads = await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => ReadConcurrentlyAsync(driver, "same.bin", content.Length, i % 2 == 1), Cancellation)))
            .ConfigureAwait(false);
        for (var i = 0; i < n; i++)
            AssertSameContent(content, reads[i], "same.bin", $"the driver under test (concurrent read #{i})");

        var versions = Enumerable.Range(0, n).Select(i => Content(20_000 + i * 101, 800 + i)).ToArray();
        var plugs = Enumerable.Range(0, n).Select(_ => ProbePlug.Known(FolderName, "same.bin")).ToArray();
        await Task.WhenAll(versions.Select((v, i) => Task.Run(async () =>
        {
            plugs[i].Size = v.Length;
            plugs[i].ModifiedAt = DateTimeOffset.UtcNow;
            using var stream = new MemoryStream(v, writable: false);
            try
            {
                await driver.UploadFileAsync(plugs[i], stream, Cancellation).ConfigureAwait(false);
            }
            catch (ContentChangedException)
            {
                // Refusing a write over a revision it did not expect is the contract; the others won.
            }
        }, Cancellation))).ConfigureAwait(false);
        var final = await ReadFromSubjectAsync("same.bin").ConfigureAwait(false);
        Assert.That(final, Is.Not.Null, "same.bin is missing after concurrent uploads");
        Assert.That(versions.Append(content).Any(v => v.AsSpan().SequenceEqual(final)), Is.True,
            $"After {n} concurrent uploads of same.bin, its content ({final!.Length} bytes) is none of the versions sent: the writes interleaved");
    }

    private async Task<byte[]?> ReadConcurrentlyAsync(IDriver driver, string path, int size, bool chunked)
    {
        var metadata = new Metadata(FolderName, path) { Size = size };
        if (chunked && driver is IChunkedReader reader)
        {
            var buffer = new byte[size];
            var read = 0;
            while (read < size)
            {
                var n = await reader.ReadChunkAsync(metadata, read, buffer.AsMemory(read, Math.Min(4099, size - read)), Cancellation).ConfigureAwait(false);
                if (n == 0)
                    break;
                read += n;
            }
            return buffer[..read];
        }
        var stream = await driver.OpenReadAsync(metadata, Cancellation).ConfigureAwait(false);
        await using var disposeStream = stream.ConfigureAwait(false);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
        return copy.ToArray();
    }
}
