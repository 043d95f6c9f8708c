using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Onitu.Drivers.S3;

/// <summary>Reading: streamed objects and ranged chunks, fetched ahead.</summary>
public sealed partial class S3Driver
{
    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        var response = await CallAsync($"read {metadata}", () => _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new ObjectReadStream(response, _options, metadata.ToString());
    }

    /// <inheritdoc />
    /// <remarks>
    /// A transfer reads a file's chunks in order: the chunks after the one asked for are fetched ahead, up to 4 ranged
    /// GETs in flight (within <c>concurrency</c>), so that the store serves several ranges at once as rclone's
    /// multi-thread downloads do.
    /// </remarks>
    public async ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(metadata);
        if (buffer.Length == 0) return 0;
        var ahead = _readAheads.AddOrUpdate(key,
            _ => new ReadAhead(metadata.Revision, buffer.Length),
            (_, existing) =>
            {
                if (existing.Revision == metadata.Revision && existing.Length == buffer.Length) return existing;
                existing.Dispose();
                return new ReadAhead(metadata.Revision, buffer.Length);
            });
        ahead.Touch();
        var fetch = ahead.Take(offset) ?? FetchRangeAsync(metadata, key, offset, buffer.Length, cancellationToken);
        if (metadata.Size > 0)
        {
            var depth = Math.Min(4, _options.Concurrency);
            for (var i = 1; i <= depth; i++)
            {
                var next = offset + (long)i * buffer.Length;
                if (next >= metadata.Size) break;
                ahead.Ensure(next, token => FetchRangeAsync(metadata, key, next, buffer.Length, token));
            }
        }
        (byte[] Data, int Count) fetched;
        try
        {
            fetched = await fetch.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A fetch ahead dropped by a concurrent read of another revision: this read fetches its own.
            fetched = await FetchRangeAsync(metadata, key, offset, buffer.Length, cancellationToken).ConfigureAwait(false);
        }
        var (data, count) = fetched;
        data.AsSpan(0, count).CopyTo(buffer.Span);
        if (data.Length > 0) ArrayPool<byte>.Shared.Return(data);
        if (count < buffer.Length && _readAheads.TryRemove(new KeyValuePair<string, ReadAhead>(key, ahead)))
            ahead.Dispose(); // the end of the file
        return count;
    }

    private async Task<(byte[] Data, int Count)> FetchRangeAsync(Metadata metadata, string key, long offset, int length, CancellationToken cancellationToken)
    {
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                ByteRange = new ByteRange(offset, offset + length - 1),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || e.ErrorCode == "InvalidRange")
        {
            return ([], 0); // at or past the end
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"read {metadata} at {offset}");
        }
        using (response)
        {
            try
            {
                // Pooled: a transfer fetches thousands of chunks of the same size.
                var data = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    var count = await response.ResponseStream.ReadAtLeastAsync(data.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    return (data, count);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(data);
                    throw;
                }
            }
            catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
            {
                throw S3Errors.Map(e, _options, $"read {metadata} at {offset}");
            }
        }
    }

    // Closes the read-aheads of transfers that stopped reading (abandoned, or failed elsewhere).
    private void DropIdleReadAheads(TimeSpan idle)
    {
        foreach (var (key, ahead) in _readAheads)
        {
            if (ahead.IdleFor >= idle && _readAheads.TryRemove(new KeyValuePair<string, ReadAhead>(key, ahead)))
                ahead.Dispose();
        }
    }

    /// <summary>The ranges of one file fetched ahead of the chunk a transfer reads.</summary>
    private sealed class ReadAhead(string? revision, int length) : IDisposable
    {
        private readonly ConcurrentDictionary<long, Task<(byte[] Data, int Count)>> _fetches = new();
        private readonly CancellationTokenSource _stop = new();
        private long _lastUsed = Stopwatch.GetTimestamp();

        public string? Revision { get; } = revision;

        public int Length { get; } = length;

        public TimeSpan IdleFor => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastUsed));

        public void Touch() => Interlocked.Exchange(ref _lastUsed, Stopwatch.GetTimestamp());

        public Task<(byte[] Data, int Count)>? Take(long offset) => _fetches.TryRemove(offset, out var fetch) ? fetch : null;

        public void Ensure(long offset, Func<CancellationToken, Task<(byte[] Data, int Count)>> fetch)
        {
            if (_stop.IsCancellationRequested || _fetches.ContainsKey(offset)) return;
            _fetches.TryAdd(offset, fetch(_stop.Token));
        }

        public void Dispose()
        {
            _stop.Cancel();
            // Fetches nobody will take: their failures are observed, their buffers go back to the pool.
            foreach (var fetch in _fetches.Values)
                _ = ReleaseAsync(fetch);
            _fetches.Clear();
        }

        private static async Task ReleaseAsync(Task<(byte[] Data, int Count)> fetch)
        {
            try
            {
                var (data, _) = await fetch.ConfigureAwait(false);
                if (data.Length > 0) ArrayPool<byte>.Shared.Return(data);
            }
            catch (Exception e) when (e is OnituException or OperationCanceledException or ObjectDisposedException or IOException or HttpRequestException)
            {
                // Nobody waits for it any more (the driver may be closed already).
            }
        }
    }
}
