using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Onitu.Drivers.S3;

/// <summary>
/// The S3 driver: syncs folders kept as objects of one bucket of Amazon S3 or of an S3-compatible store. A file is
/// the object <c>&lt;prefix&gt;&lt;folder path&gt;/&lt;file path&gt;</c>; changes are found by listing the folder's
/// keys; every write is a single PUT or a completed multipart upload, so a new content appears whole.
/// </summary>
/// <remarks>
/// <para>Revisions are <c>&lt;ETag&gt;:&lt;size&gt;</c>: the ETag changes with the content, and a conditional write
/// (If-Match) can name it. The listing's last-modified time is the file's <see cref="Metadata.ModifiedAt"/>.</para>
/// <para>Compare-and-swap: a PUT carries <c>If-None-Match: *</c> (the engine expects no file) or <c>If-Match</c>
/// (it expects a version); a store that refuses the headers gets a HEAD just before the write instead. Deletions,
/// copies and the completion of multipart uploads are checked with a HEAD just before (a window of one request).</para>
/// <para>Chunked uploads are multipart uploads whose id and stored parts are kept in the driver's state store, so a
/// restarted process continues at the last stored part; multipart uploads under the driver's prefix that no state
/// refers to and that are older than a day are aborted by the startup scan.</para>
/// </remarks>
public sealed class S3Driver : IDriver, IChunkedReader, IChunkedWriter, INativeMove, INativeCopy, IFileStat
{
    /// <summary>A multipart upload no state refers to, older than this, is abandoned: the startup scan aborts it.</summary>
    internal static readonly TimeSpan AbandonedUploadAge = TimeSpan.FromDays(1);

    // Echo records outlive any poll that could still report the change they describe.
    private static readonly TimeSpan OwnChangeLifetime = TimeSpan.FromMinutes(10);

    // Consecutive failed polls after which the store counts as unreachable rather than briefly away.
    private const int PollFailuresBeforeFailing = 3;

    private readonly IPlug _plug;
    private readonly S3Options _options;
    private readonly AmazonS3Client _client;
    private readonly Dictionary<string, string> _folders;
    private readonly ConcurrentDictionary<string, OwnChange> _own = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, UploadSession> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReadAhead> _readAheads = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _stateLock = new(1, 1);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _keyLocks = new(StringComparer.Ordinal);
    private int _headersRefused;
    private long _partsSent;
    private int _disposed;

    /// <summary>Creates the driver of one service; the store is not contacted before the first call.</summary>
    /// <exception cref="DriverException">An option is unusable.</exception>
    public S3Driver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _options = S3Options.From(plug.Options);
        _folders = plug.Folders.ToDictionary(f => f.Name, f => FolderPrefix(_options.Prefix, f.Path), StringComparer.Ordinal);
        _client = _options.CreateClient();
    }

    /// <summary>A change this driver made itself, so that polling does not report it back (null revision: a deletion).</summary>
    private readonly record struct OwnChange(string? Revision, long At);

    /// <summary>A chunked upload of this process: its state and the lock its calls take turns on.</summary>
    private sealed class UploadSession(MultipartState state)
    {
        public MultipartState State { get; set; } = state;

        public SemaphoreSlim Gate { get; } = new(1, 1);
    }

    /// <summary>How old a multipart upload no state refers to must be before the startup scan aborts it.</summary>
    internal TimeSpan AbandonedAfter { get; init; } = AbandonedUploadAge;

    /// <summary>How many parts this driver has sent (UploadPart requests that succeeded), for tests.</summary>
    internal long PartsSent => Interlocked.Read(ref _partsSent);

    /// <summary>The SDK client, for tests that look at the store directly.</summary>
    internal AmazonS3Client Client => _client;

    // ---- Keys and revisions -----------------------------------------------------------------------------------

    /// <summary>The key prefix of a folder: the driver's prefix, then the mapping's path, then '/'.</summary>
    internal static string FolderPrefix(string prefix, string folderPath)
    {
        var path = string.Join('/', folderPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != "."));
        return path.Length == 0 ? prefix : prefix + path + "/";
    }

    private string FolderKey(string folder) =>
        _folders.TryGetValue(folder, out var prefix) ? prefix : throw new DriverException($"The folder '{folder}' is not mapped on this service.");

    /// <summary>The object key of a file.</summary>
    internal string KeyOf(Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return FolderKey(metadata.Folder) + metadata.Path;
    }

    internal static string Unquote(string? etag) => etag is null ? "" : etag.Trim('"');

    internal static string Revision(string etag, long size) => string.Create(CultureInfo.InvariantCulture, $"{Unquote(etag)}:{size}");

    /// <summary>The ETag part of a revision this driver made, or null.</summary>
    internal static string? ETagOf(string? revision)
    {
        var colon = revision?.LastIndexOf(':') ?? -1;
        return colon > 0 ? revision![..colon] : null;
    }

    private void RecordOwn(string key, string? revision) => _own[key] = new OwnChange(revision, Stopwatch.GetTimestamp());

    private void ForgetOldOwnChanges()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (key, own) in _own)
        {
            if (Stopwatch.GetElapsedTime(own.At, now) > OwnChangeLifetime)
                _own.TryRemove(new KeyValuePair<string, OwnChange>(key, own));
        }
    }

    // This driver's own writes of one key take turns: their checks then see each other's results, and radosgw answers
    // 500 to conditional PUTs of one object that race each other.
    private async Task<IDisposable> LockAsync(string key, CancellationToken cancellationToken)
    {
        var gate = _keyLocks.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(gate);
    }

    private async Task<IDisposable> LockAsync(string first, string second, CancellationToken cancellationToken)
    {
        if (first == second) return await LockAsync(first, cancellationToken).ConfigureAwait(false);
        if (string.CompareOrdinal(first, second) > 0) (first, second) = (second, first);
        var one = await LockAsync(first, cancellationToken).ConfigureAwait(false);
        try
        {
            return new Both(one, await LockAsync(second, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            one.Dispose();
            throw;
        }
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release();
        }
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            second.Dispose();
            first.Dispose();
        }
    }

    private async Task<T> CallAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken) && e is not OnituException)
        {
            throw S3Errors.Map(e, _options, what);
        }
    }

    /// <summary>The object's current state, or null when there is none.</summary>
    private async Task<Metadata?> HeadAsync(string key, Metadata like, CancellationToken cancellationToken)
    {
        try
        {
            var head = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return new Metadata(like.Folder, like.Path)
            {
                Revision = Revision(head.ETag, head.ContentLength),
                Size = head.ContentLength,
                ModifiedAt = head.LastModified is { } modified ? new DateTimeOffset(DateTime.SpecifyKind(modified, DateTimeKind.Utc)).ToUniversalTime() : null,
            };
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"look at {like}");
        }
    }

    /// <inheritdoc />
    public async ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken) =>
        await HeadAsync(KeyOf(metadata), metadata, cancellationToken).ConfigureAwait(false);

    // Refuses a write or deletion when the store does not hold the revision the engine expects: the store's state
    // is reported, then ContentChangedException thrown.
    private async Task CheckExpectedAsync(string action, string key, Metadata expected, CancellationToken cancellationToken)
    {
        var current = await HeadAsync(key, expected, cancellationToken).ConfigureAwait(false);
        if (current?.Revision != expected.Revision)
            throw await ReportChangedAsync(action, expected, current, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ContentChangedException> ReportChangedAsync(string action, Metadata expected, Metadata? actual, CancellationToken cancellationToken)
    {
        if (actual is not null) await _plug.UpdateFileAsync(actual, cancellationToken).ConfigureAwait(false);
        else if (expected.Revision is not null) await _plug.DeleteFileAsync(new Metadata(expected.Folder, expected.Path), cancellationToken).ConfigureAwait(false);
        return new ContentChangedException(
            $"Refused to {action} {expected}: it changed on the store (revision {actual?.Revision ?? "none"}, expected {expected.Revision ?? "none"}).");
    }

    private bool UseHeaders => _options.ConditionalWrites == ConditionalWrites.Headers
        || _options.ConditionalWrites == ConditionalWrites.Auto && Volatile.Read(ref _headersRefused) == 0;

    // ---- Scan and watch -------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        foreach (var folder in _plug.Folders)
            await ScanFolderAsync(folder.Name, cancellationToken).ConfigureAwait(false);
        if (!_plug.DryRun)
        {
            foreach (var prefix in _folders.Values.Distinct(StringComparer.Ordinal))
                await AbortAbandonedUploadsAsync(prefix, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task WatchAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        try
        {
            while (true)
            {
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
                try
                {
                    ForgetOldOwnChanges();
                    DropIdleReadAheads(TimeSpan.FromSeconds(30));
                    foreach (var folder in _plug.Folders)
                        await ScanFolderAsync(folder.Name, cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }
                catch (ServiceException e) when (e.IsTransient && ++failures < PollFailuresBeforeFailing)
                {
                    // A store that stays away ends the watch; the engine reports the service failing and restarts it.
                    Log.PollFailed(_plug.Logger, _options.Describe(), e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // Lists the folder's keys and reports how they differ from what the engine knows of this service. Objects that
    // left one key for another with the same revision are reported as moves.
    private async Task ScanFolderAsync(string folder, CancellationToken cancellationToken)
    {
        var prefix = FolderKey(folder);
        // What the engine knows is read before the store is listed: a file this driver writes meanwhile then shows as
        // found, not as known-but-missing, which would read as a deletion.
        var known = new Dictionary<string, Metadata>(StringComparer.Ordinal);
        await foreach (var metadata in _plug.ListFilesAsync(folder, cancellationToken: cancellationToken).ConfigureAwait(false))
            known[metadata.Path] = metadata;

        var fresh = new List<Metadata>();
        string? continuation = null;
        do
        {
            var page = await CallAsync($"list folder '{folder}' ({prefix})", () => _client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _options.Bucket,
                Prefix = prefix,
                ContinuationToken = continuation,
                MaxKeys = 1000,
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                var relative = item.Key[prefix.Length..];
                // A key ending with '/' is a "directory" another tool created: no file.
                if (relative.Length == 0 || relative.EndsWith('/')) continue;
                Metadata found;
                try
                {
                    found = new Metadata(folder, relative)
                    {
                        Size = item.Size ?? 0,
                        Revision = Revision(item.ETag, item.Size ?? 0),
                        ModifiedAt = item.LastModified is { } modified ? new DateTimeOffset(DateTime.SpecifyKind(modified, DateTimeKind.Utc)).ToUniversalTime() : null,
                    };
                    if (FilePath.Normalize(relative) != relative) throw new ArgumentException("it has empty segments ('//')");
                }
                catch (ArgumentException e)
                {
                    await ReportSkippedAsync(folder, relative.Trim('/') is { Length: > 0 } shown ? shown : item.Key, "not a valid path in a folder: " + e.Message, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (known.Remove(found.Path, out var previous) && previous.Revision == found.Revision)
                {
                    _own.TryRemove(item.Key, out _);
                    continue;
                }
                if (previous is null) fresh.Add(found);
                else await ReportFoundAsync(item.Key, found, cancellationToken).ConfigureAwait(false);
            }
            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);

        // A move is a deletion and a creation of one revision, each unambiguous.
        var gone = known.Values.Where(m => m.Revision is not null).GroupBy(m => m.Revision!).Where(g => g.Count() == 1).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var appeared = fresh.GroupBy(m => m.Revision!).Where(g => g.Count() == 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var found in fresh)
        {
            if (appeared.Contains(found.Revision!) && gone.Remove(found.Revision!, out var source)
                && !_own.ContainsKey(prefix + source.Path) && !_own.ContainsKey(prefix + found.Path))
            {
                known.Remove(source.Path);
                await _plug.MoveFileAsync(new Metadata(folder, source.Path), found, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ReportFoundAsync(prefix + found.Path, found, cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var metadata in known.Values)
        {
            var key = prefix + metadata.Path;
            if (_own.TryGetValue(key, out var own) && own.Revision is null)
            {
                _own.TryRemove(new KeyValuePair<string, OwnChange>(key, own));
                continue;
            }
            await _plug.DeleteFileAsync(new Metadata(folder, metadata.Path), cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask ReportFoundAsync(string key, Metadata found, CancellationToken cancellationToken)
    {
        if (_own.TryGetValue(key, out var own) && own.Revision == found.Revision)
        {
            _own.TryRemove(new KeyValuePair<string, OwnChange>(key, own));
            return;
        }
        await _plug.UpdateFileAsync(found, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken)
    {
        Log.Skipping(_plug.Logger, folder, path, reason);
        return _plug.ReportSkippedAsync(folder, path, reason, cancellationToken);
    }

    // Multipart uploads under the prefix that no state of this service refers to and that are old are dead (a crash
    // between creating one and recording it, or a client that gave up): their parts cost storage until aborted.
    private async Task AbortAbandonedUploadsAsync(string prefix, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        var aborted = 0;
        string? keyMarker = null, idMarker = null;
        do
        {
            var page = await CallAsync($"list the multipart uploads under '{prefix}'", () => _client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
            {
                BucketName = _options.Bucket,
                Prefix = prefix,
                KeyMarker = keyMarker,
                UploadIdMarker = idMarker,
            }, cancellationToken), cancellationToken).ConfigureAwait(false);
            foreach (var upload in page.MultipartUploads ?? [])
            {
                if (upload.Initiated is not { } initiated || now - DateTime.SpecifyKind(initiated, DateTimeKind.Utc) < AbandonedAfter) continue;
                var state = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(upload.Key), cancellationToken).ConfigureAwait(false));
                if (state?.UploadId == upload.UploadId) continue;
                await TryAbortAsync(upload.Key, upload.UploadId).ConfigureAwait(false);
                aborted++;
            }
            keyMarker = page.IsTruncated == true ? page.NextKeyMarker : null;
            idMarker = page.NextUploadIdMarker;
        }
        while (keyMarker is not null);
        if (aborted > 0) Log.StaleUploadsAborted(_plug.Logger, aborted, prefix);
    }

    private async Task TryAbortAsync(string key, string uploadId)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = uploadId }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, CancellationToken.None))
        {
            // Best effort: an upload that could not be aborted is found again by a later startup scan.
            Log.AbortFailed(_plug.Logger, uploadId, key, e.Message);
        }
    }

    // ---- Reading ----------------------------------------------------------------------------------------------

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
                var data = new byte[length];
                var count = await response.ResponseStream.ReadAtLeastAsync(data, length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                return (data, count);
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
            foreach (var fetch in _fetches.Values)
                _ = fetch.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            _fetches.Clear();
        }
    }

    // ---- Whole-file writes ------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var key = KeyOf(metadata);
        var partSize = (int)Math.Min(_options.PartSize, Array.MaxLength);
        var buffer = ArrayPool<byte>.Shared.Rent(partSize);
        try
        {
            var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < partSize)
            {
                using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                    await PutAsync(metadata, key, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                return;
            }
            // Larger than a part: a multipart upload within this call (not resumable: the stream cannot be rewound).
            var state = await CreateUploadAsync(metadata, key, cancellationToken).ConfigureAwait(false);
            try
            {
                while (read > 0)
                {
                    await UploadPartAsync(metadata, key, state, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    read = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                }
                using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                    await CompleteAsync(metadata, key, state, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await TryAbortAsync(key, state.UploadId).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // One PUT, conditional on the revision the engine expects.
    private async Task PutAsync(Metadata metadata, string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var expectedETag = ETagOf(metadata.Revision);
        var headers = UseHeaders && (metadata.Revision is null || expectedETag is not null);
        if (!headers) await CheckExpectedAsync("write", key, metadata, cancellationToken).ConfigureAwait(false);
        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            InputStream = AsStream(data),
            ContentType = metadata.MimeType,
            AutoCloseStream = true,
            UseChunkEncoding = false,
            DisablePayloadSigning = _options.IsHttps,
        };
        if (_options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        if (headers)
        {
            // radosgw compares If-Match with the ETag as it stores it: without quotes (AWS accepts both).
            if (metadata.Revision is null) request.IfNoneMatch = "*";
            else request.IfMatch = expectedETag;
        }
        PutObjectResponse response;
        try
        {
            response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (headers && S3Errors.IsPreconditionFailed(e))
        {
            throw await ReportChangedAsync("write", metadata, await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (headers && _options.ConditionalWrites == ConditionalWrites.Auto && S3Errors.IsUnsupported(e))
        {
            Interlocked.Exchange(ref _headersRefused, 1);
            Log.ConditionalWritesUnsupported(_plug.Logger, _options.Describe(), e.ErrorCode ?? e.Message);
            await PutAsync(metadata, key, data, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"write {metadata}");
        }
        var etag = Unquote(response.ETag);
        if (etag.Length == 0)
        {
            var written = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{metadata} is missing from {_options.Describe()} right after it was written.");
            Written(metadata, key, written.Revision!, written.Size, written.ModifiedAt);
            return;
        }
        Written(metadata, key, Revision(etag, data.Length), data.Length);
    }

    // S3 cannot keep the source's modification time: the object's is when the store received it. It is this
    // machine's clock when the write returns unless a HEAD told it (a window of one request, and the clocks' skew).
    private void Written(Metadata metadata, string key, string revision, long size, DateTimeOffset? modifiedAt = null)
    {
        RecordOwn(key, revision);
        metadata.Revision = revision;
        metadata.Size = size;
        metadata.ModifiedAt = modifiedAt ?? DateTimeOffset.UtcNow;
    }

    private static MemoryStream AsStream(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    // ---- Multipart uploads --------------------------------------------------------------------------------------

    private async Task<MultipartState> CreateUploadAsync(Metadata metadata, string key, CancellationToken cancellationToken)
    {
        var request = new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = key, ContentType = metadata.MimeType };
        if (_options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        var response = await CallAsync($"start uploading {metadata}", () => _client.InitiateMultipartUploadAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new MultipartState { UploadId = response.UploadId, PartSize = _options.PartSize };
    }

    private async Task UploadPartAsync(Metadata metadata, string key, MultipartState state, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        state.Parts.Add(await SendPartAsync(metadata, key, state.UploadId, state.Parts.Count + 1, data, cancellationToken).ConfigureAwait(false));

    // Several parts of one chunk go up together; the parts stored are recorded in order up to the first failure, so
    // that a restart resumes after them.
    private async Task UploadPartsAsync(Metadata metadata, string key, MultipartState state, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        var partSize = (int)Math.Min(state.PartSize, int.MaxValue);
        var sends = new List<Task<StoredPart>>();
        for (var at = 0; at < chunk.Length || at == 0; at += partSize)
            sends.Add(SendPartAsync(metadata, key, state.UploadId, state.Parts.Count + 1 + sends.Count, chunk.Slice(at, Math.Min(partSize, chunk.Length - at)), cancellationToken));
        try
        {
            await Task.WhenAll(sends).ConfigureAwait(false);
        }
        finally
        {
            foreach (var send in sends)
            {
                if (!send.IsCompletedSuccessfully) break;
                state.Parts.Add(await send.ConfigureAwait(false));
            }
        }
    }

    private async Task<StoredPart> SendPartAsync(Metadata metadata, string key, string uploadId, int number, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var response = await CallAsync($"upload part {number} of {metadata}", () => _client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = number,
            InputStream = AsStream(data),
            PartSize = data.Length,
            UseChunkEncoding = false,
            DisablePayloadSigning = _options.IsHttps,
        }, cancellationToken), cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _partsSent);
        return new StoredPart(number, Unquote(response.ETag), data.Length);
    }

    // Completes a multipart upload once the file still has the revision the engine expects (a HEAD just before, and
    // the conditional headers for stores that check them on completion too).
    private async Task CompleteAsync(Metadata metadata, string key, MultipartState state, CancellationToken cancellationToken)
    {
        await CheckExpectedAsync("write", key, metadata, cancellationToken).ConfigureAwait(false);
        var request = new CompleteMultipartUploadRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            UploadId = state.UploadId,
            PartETags = [.. state.Parts.Select(p => new PartETag(p.Number, p.ETag))],
        };
        CompleteMultipartUploadResponse response;
        try
        {
            response = await _client.CompleteMultipartUploadAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (S3Errors.IsPreconditionFailed(e))
        {
            throw await ReportChangedAsync("write", metadata, await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidPart" && state.HasUnlistedParts)
        {
            // Parts stored past a restart's offset and not sent again (the file's tail came out shorter): S3 drops
            // them, radosgw refuses to complete. The upload cannot finish as it is: it goes, and the engine starts over.
            await TryAbortAsync(key, state.UploadId).ConfigureAwait(false);
            await SaveAsync(key, null, CancellationToken.None).ConfigureAwait(false);
            throw new UploadNotResumableException(
                $"{_options.Describe()} refuses to complete the upload of {metadata} while it holds parts stored before the restart and not sent again; the upload starts over.", e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"complete the upload of {metadata}");
        }
        var size = state.StoredBytes;
        var etag = Unquote(response.ETag);
        if (etag.Length == 0)
        {
            // radosgw's Complete answers an empty ETag: the object says what it is.
            var written = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{metadata} is missing from {_options.Describe()} right after its upload completed.");
            Written(metadata, key, written.Revision!, written.Size, written.ModifiedAt);
            return;
        }
        Written(metadata, key, Revision(etag, size), size);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A chunk is a whole number of parts (at least S3's 5 MiB each) that go up together: up to 4 (within
    /// <c>concurrency</c>, and 256 MiB a chunk). The engine sends one chunk at a time, and a restart resumes at a
    /// chunk's end, where every part before it is stored.
    /// </remarks>
    public int NegotiateChunkSize(int proposedChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposedChunkSize);
        return (int)Math.Min(_options.PartSize * PartsPerChunk, Array.MaxLength);
    }

    /// <summary>How many parts one chunk holds.</summary>
    internal int PartsPerChunk => (int)Math.Max(1, Math.Min(Math.Min(4, _options.Concurrency), MaxChunkSize / _options.PartSize));

    private const long MaxChunkSize = 256L * 1024 * 1024;

    /// <inheritdoc />
    public async ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        var previous = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false));
        if (previous is not null) await TryAbortAsync(key, previous.UploadId).ConfigureAwait(false);
        var state = await CreateUploadAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await SaveAsync(key, state, cancellationToken).ConfigureAwait(false);
        _uploads[key] = new UploadSession(state);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The parts the store lists for the upload are matched with those recorded; the upload continues after the last
    /// stored part at or before <paramref name="offset"/>, which must end exactly there (every chunk is a part).
    /// </remarks>
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(metadata);
        var state = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false))
            ?? throw new UploadNotResumableException($"No multipart upload of {metadata} is recorded.");
        var listed = new Dictionary<int, PartDetail>();
        try
        {
            int? marker = null;
            while (true)
            {
                var page = await _client.ListPartsAsync(new ListPartsRequest
                {
                    BucketName = _options.Bucket,
                    Key = key,
                    UploadId = state.UploadId,
                    PartNumberMarker = marker?.ToString(CultureInfo.InvariantCulture),
                }, cancellationToken).ConfigureAwait(false);
                foreach (var part in page.Parts ?? []) listed[part.PartNumber ?? 0] = part;
                if (page.IsTruncated != true || page.NextPartNumberMarker is not { } next) break;
                marker = next;
            }
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload" || e.StatusCode == HttpStatusCode.NotFound)
        {
            await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
            throw new UploadNotResumableException($"The multipart upload of {metadata} is gone from {_options.Describe()}.", e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"list the stored parts of {metadata}");
        }
        var kept = new List<StoredPart>();
        long stored = 0;
        foreach (var part in state.Parts.OrderBy(p => p.Number))
        {
            if (part.Number != kept.Count + 1 || stored + part.Size > offset) break;
            if (!listed.TryGetValue(part.Number, out var detail) || Unquote(detail.ETag) != part.ETag || detail.Size != part.Size) break;
            kept.Add(part);
            stored += part.Size;
        }
        if (stored != offset)
            throw new UploadNotResumableException($"The multipart upload of {metadata} holds {stored} bytes in whole parts, not the {offset} to resume at.");
        var resumed = new MultipartState { UploadId = state.UploadId, PartSize = state.PartSize, Parts = kept, HighestStoredPart = listed.Keys.DefaultIfEmpty(0).Max() };
        await SaveAsync(key, resumed, cancellationToken).ConfigureAwait(false);
        _uploads[key] = new UploadSession(resumed);
        Log.UploadResumed(_plug.Logger, key, kept.Count + 1, stored);
    }

    /// <inheritdoc />
    public async ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(metadata);
        var session = await SessionAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = session.State;
            if (offset != state.StoredBytes)
                throw new UploadNotResumableException($"A chunk of {metadata} arrived at offset {offset}; the multipart upload holds {state.StoredBytes} bytes.");
            try
            {
                await UploadPartsAsync(metadata, key, state, chunk, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await SaveAsync(key, state, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        var session = await SessionAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // S3 refuses a multipart upload without parts: an empty file is one empty part.
            if (session.State.Parts.Count == 0) await UploadPartAsync(metadata, key, session.State, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                await CompleteAsync(metadata, key, session.State, cancellationToken).ConfigureAwait(false);
            _uploads.TryRemove(key, out _);
            await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        _uploads.TryRemove(key, out var session);
        var state = session?.State ?? MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false));
        if (state is null) return;
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = state.UploadId }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload" || e.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone.
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"abort the upload of {metadata}");
        }
        await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task<UploadSession> SessionAsync(Metadata metadata, string key, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(key, out var session)) return session;
        var state = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false))
            ?? throw new UploadNotResumableException($"No multipart upload of {metadata} is in progress.");
        return _uploads.GetOrAdd(key, _ => new UploadSession(state));
    }

    private async Task SaveAsync(string key, MultipartState? state, CancellationToken cancellationToken)
    {
        // The state store is one small table shared by every upload of the service: one write at a time.
        await _stateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _plug.State.SetAsync(MultipartState.StateKey(key), state?.Serialize(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _stateLock.Release();
        }
    }

    // ---- Deletions, moves and copies --------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        using var locked = await LockAsync(key, cancellationToken).ConfigureAwait(false);
        var current = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false);
        if (current is null) return;
        if (current.Revision != metadata.Revision)
            throw await ReportChangedAsync("delete", metadata, current, cancellationToken).ConfigureAwait(false);
        RecordOwn(key, null);
        await CallAsync($"delete {metadata}", () => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>A server-side copy (CopyObject, or UploadPartCopy past 5 GiB), then the source's deletion.</remarks>
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        var from = KeyOf(source);
        var to = KeyOf(destination);
        using var locked = await LockAsync(from, to, cancellationToken).ConfigureAwait(false);
        var moved = await HeadAsync(from, source, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"Cannot move {source}: it is not in {_options.Describe()} any more.");
        if (moved.Revision != source.Revision)
            throw await ReportChangedAsync("move", source, moved, cancellationToken).ConfigureAwait(false);
        if (from == to)
        {
            destination.Revision = moved.Revision;
            destination.Size = moved.Size;
            destination.ModifiedAt = moved.ModifiedAt;
            return;
        }
        if (await HeadAsync(to, destination, cancellationToken).ConfigureAwait(false) is { } existing && existing.Revision != destination.Revision)
            throw await ReportChangedAsync("move", destination, existing, cancellationToken).ConfigureAwait(false);
        await ServerCopyAsync(_options.Bucket, from, moved, destination, to, cancellationToken).ConfigureAwait(false);
        RecordOwn(from, null);
        await CallAsync($"delete {source} after moving it", () => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = from }, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Another S3 service of the same endpoint, region and access key: the store copies between its buckets.</remarks>
    public bool CanCopyFrom(IDriver source) =>
        source is S3Driver other && other._options.Endpoint == _options.Endpoint && other._options.Region == _options.Region
        && other._options.AccessKey == _options.AccessKey;

    /// <inheritdoc />
    public async ValueTask CopyFromAsync(IDriver source, Metadata sourceMetadata, Metadata destination, CancellationToken cancellationToken)
    {
        if (source is not S3Driver other || !CanCopyFrom(source))
            throw new DriverException($"The S3 driver cannot copy from {source?.GetType().Name ?? "null"} directly.");
        var from = other.KeyOf(sourceMetadata);
        var to = KeyOf(destination);
        var original = await other.HeadAsync(from, sourceMetadata, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"Cannot copy {sourceMetadata}: it is not in {other._options.Describe()} any more.");
        using var locked = await LockAsync(to, cancellationToken).ConfigureAwait(false);
        await CheckExpectedAsync("write", to, destination, cancellationToken).ConfigureAwait(false);
        await ServerCopyAsync(other._options.Bucket, from, original, destination, to, cancellationToken).ConfigureAwait(false);
    }

    // Copies an object within the store, only while it still has the revision looked at (CopySourceIfMatch).
    private async Task ServerCopyAsync(string sourceBucket, string from, Metadata original, Metadata destination, string to, CancellationToken cancellationToken)
    {
        var etag = ETagOf(original.Revision);
        string? written;
        try
        {
            written = original.Size > S3Options.MaxPartSize
                ? await CopyInPartsAsync(sourceBucket, from, etag, original.Size, destination, to, cancellationToken).ConfigureAwait(false)
                : Unquote((await _client.CopyObjectAsync(new CopyObjectRequest
                {
                    SourceBucket = sourceBucket,
                    SourceKey = from,
                    DestinationBucket = _options.Bucket,
                    DestinationKey = to,
                    ETagToMatch = etag,
                    StorageClass = _options.StorageClass is { } storageClass ? S3StorageClass.FindValue(storageClass) : null,
                }, cancellationToken).ConfigureAwait(false)).ETag);
        }
        catch (AmazonS3Exception e) when (S3Errors.IsPreconditionFailed(e))
        {
            throw new ServiceException($"{original} changed on the store while it was copied; the new version is copied next.", isTransient: true, e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"copy {original} to {destination}");
        }
        if (string.IsNullOrEmpty(written))
        {
            var head = await HeadAsync(to, destination, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{destination} is missing from {_options.Describe()} right after it was copied.");
            Written(destination, to, head.Revision!, head.Size, head.ModifiedAt);
        }
        else
        {
            Written(destination, to, Revision(written, original.Size), original.Size);
        }
    }

    // CopyObject stops at 5 GiB: larger objects are copied part by part (UploadPartCopy), at most 10,000 parts.
    private async Task<string?> CopyInPartsAsync(string sourceBucket, string from, string? etag, long size, Metadata destination, string to, CancellationToken cancellationToken)
    {
        var partSize = Math.Max(_options.PartSize, (size + 9_999) / 10_000);
        var state = await CreateUploadAsync(destination, to, cancellationToken).ConfigureAwait(false);
        try
        {
            for (long first = 0; first < size; first += partSize)
            {
                var number = state.Parts.Count + 1;
                var last = Math.Min(size, first + partSize) - 1;
                var part = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = sourceBucket,
                    SourceKey = from,
                    DestinationBucket = _options.Bucket,
                    DestinationKey = to,
                    UploadId = state.UploadId,
                    PartNumber = number,
                    FirstByte = first,
                    LastByte = last,
                    ETagToMatch = etag is null ? null : [etag],
                }, cancellationToken).ConfigureAwait(false);
                state.Parts.Add(new StoredPart(number, Unquote(part.ETag), last - first + 1));
            }
            var done = await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = to,
                UploadId = state.UploadId,
                PartETags = [.. state.Parts.Select(p => new PartETag(p.Number, p.ETag))],
            }, cancellationToken).ConfigureAwait(false);
            return Unquote(done.ETag);
        }
        catch
        {
            await TryAbortAsync(to, state.UploadId).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Releases the HTTP client. Multipart uploads in progress stay on the store so that they can resume.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        DropIdleReadAheads(TimeSpan.Zero);
        _client.Dispose();
        _stateLock.Dispose();
        return ValueTask.CompletedTask;
    }
}
