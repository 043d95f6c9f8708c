using System.Buffers;

namespace Onitu.Drivers.Ssh.Sftp;

// Pipelined transfers: many READs or WRITEs in flight over one handle, so the pipe to the server never runs dry.
public sealed partial class SftpClient
{
    /// <summary>
    /// Reads into <paramref name="buffer"/> from <paramref name="offset"/> with up to
    /// <see cref="MaxOutstandingRequests"/> READs of <see cref="MaxReadSize"/> in flight; short replies are
    /// re-requested. Returns the bytes read: fewer than the buffer's length only at the end of the file.
    /// </summary>
    public async Task<int> ReadAsync(SftpHandle handle, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffer.IsEmpty) return 0;
        var size = MaxReadSize;
        var count = (buffer.Length + size - 1) / size;
        var parts = new Task<int>[count];
        var issued = 0;
        try
        {
            for (; issued < count; issued++)
            {
                // The window is full: the oldest part must finish first; a short one means the end of the file.
                if (issued >= MaxOutstandingRequests && await parts[issued - MaxOutstandingRequests].ConfigureAwait(false) < size) break;
                var region = buffer.Slice(issued * size, Math.Min(size, buffer.Length - (issued * size)));
                parts[issued] = ReadRegionAsync(handle, offset + (issued * (long)size), region, cancellationToken);
            }
        }
        finally
        {
            // Every issued part writes into the caller's buffer: none may outlive this call.
            await Task.WhenAll(parts.Take(issued)).WhenSettled().ConfigureAwait(false);
        }

        var total = 0;
        for (var i = 0; i < issued; i++)
        {
            var filled = await parts[i].ConfigureAwait(false);
            total += filled;
            if (filled < Math.Min(size, buffer.Length - (i * size))) break;
        }
        return total;
    }

    // Fills one region, re-requesting after short replies; returns less than its length only at the end of the file.
    private async Task<int> ReadRegionAsync(SftpHandle handle, long offset, Memory<byte> region, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < region.Length)
        {
            var read = await ReadChunkAsync(handle, offset + done, region[done..], cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            done += read;
        }
        return done;
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> with up to <see cref="MaxOutstandingRequests"/>
    /// WRITEs of <see cref="MaxWriteSize"/> in flight; returns when the server acknowledged them all.
    /// </summary>
    public async Task WriteAsync(SftpHandle handle, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var size = MaxWriteSize;
        var window = new Queue<Task>();
        try
        {
            for (var at = 0; at < data.Length; at += size)
            {
                if (window.Count >= MaxOutstandingRequests) await window.Dequeue().ConfigureAwait(false);
                window.Enqueue(WriteChunkAsync(handle, offset + at, data.Slice(at, Math.Min(size, data.Length - at)), cancellationToken));
            }
            while (window.Count > 0) await window.Dequeue().ConfigureAwait(false);
        }
        finally
        {
            await Task.WhenAll(window).WhenSettled().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes everything <paramref name="source"/> yields from <paramref name="offset"/> on, keeping up to
    /// <see cref="MaxOutstandingRequests"/> WRITEs in flight while the source is read: the pipe to the server never
    /// runs dry between buffers. Returns the bytes written once the server acknowledged them all.
    /// </summary>
    public async Task<long> WriteFromStreamAsync(SftpHandle handle, long offset, Stream source, CancellationToken cancellationToken)
    {
        var sent = await SendFromStreamAsync(handle, offset, source, expectedLength: null, cancellationToken).ConfigureAwait(false);
        await sent.Acknowledged.ConfigureAwait(false);
        return sent.Written;
    }

    /// <summary>
    /// Sends WRITEs of everything <paramref name="source"/> yields from <paramref name="offset"/> on, keeping up to
    /// <see cref="MaxOutstandingRequests"/> of them unacknowledged while the source is read, and returns as soon as the
    /// source is exhausted: the bytes sent, and the task of the acknowledgements still awaited (faulted by the first
    /// refusal). The server handles the requests of one handle in the order they came, so the requests that end the
    /// file (fstat, close) can follow these writes at once instead of a round trip later: a small file's whole
    /// content and its end go out together.
    /// </summary>
    /// <remarks>When the source fails, the writes already sent are settled before its exception is thrown.</remarks>
    /// <param name="handle">The file written.</param>
    /// <param name="offset">Where the source's first byte goes.</param>
    /// <param name="source">The content.</param>
    /// <param name="expectedLength">How long the source is expected to be, if known: a smaller one gets a buffer of its
    /// size rather than one of <see cref="MaxWriteSize"/> (many small files in flight each hold one). Any length is
    /// written whole whatever the guess.</param>
    /// <param name="cancellationToken">Stops reading the source and sending.</param>
    public async Task<SentWrites> SendFromStreamAsync(SftpHandle handle, long offset, Stream source, long? expectedLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        // One more byte than expected: the read that fills the buffer also finds the end of the source.
        var size = expectedLength is >= 0 and var expected && expected < MaxWriteSize ? (int)Math.Max(expected + 1, 4096) : MaxWriteSize;
        // One buffer is enough: each request copies its bytes before WriteChunkAsync returns.
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        var window = new Queue<Task>();
        long written = 0;
        try
        {
            while (true)
            {
                var read = await source.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                if (window.Count >= MaxOutstandingRequests) await window.Dequeue().ConfigureAwait(false);
                window.Enqueue(WriteChunkAsync(handle, offset + written, buffer.AsMemory(0, read), cancellationToken));
                written += read;
                if (read < size) break;
            }
        }
        catch
        {
            await Task.WhenAll(window).WhenSettled().ConfigureAwait(false);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return new SentWrites(written, window.Count switch
        {
            0 => Task.CompletedTask,
            1 => window.Peek(),
            _ => Task.WhenAll(window),
        });
    }

    /// <summary>Reads a whole file (OPEN, pipelined READs, CLOSE).</summary>
    public async Task<byte[]> ReadAllBytesAsync(string path, CancellationToken cancellationToken)
    {
        var handle = await OpenAsync(path, SftpOpenFlags.Read, null, cancellationToken).ConfigureAwait(false);
        try
        {
            var attributes = await FStatAsync(handle, cancellationToken).ConfigureAwait(false);
            var content = new MemoryStream();
            var buffer = new byte[Math.Max(MaxReadSize, (int)Math.Min(attributes.Size ?? 0, 16 * 1024 * 1024)) + 1];
            long offset = 0;
            while (true)
            {
                var read = await ReadAsync(handle, offset, buffer, cancellationToken).ConfigureAwait(false);
                await content.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                offset += read;
                if (read < buffer.Length) return content.ToArray();
            }
        }
        finally
        {
            await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    /// <summary>Creates or truncates a file and writes <paramref name="content"/> (OPEN, pipelined WRITEs, CLOSE).</summary>
    public async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var handle = await OpenAsync(path, SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Truncate, null, cancellationToken).ConfigureAwait(false);
        var closed = false;
        try
        {
            await WriteAsync(handle, 0, content, cancellationToken).ConfigureAwait(false);
            closed = true;
            await CloseAsync(handle, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!closed) await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }
}

/// <summary>WRITEs sent by <see cref="SftpClient.SendFromStreamAsync"/>: how many bytes, and their acknowledgements.</summary>
/// <param name="Written">The bytes sent.</param>
/// <param name="Acknowledged">Completes when the server acknowledged every write; faulted by the first refusal.</param>
public readonly record struct SentWrites(long Written, Task Acknowledged);
