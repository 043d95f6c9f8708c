using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;
using Onitu.Drivers.Toolkit;

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
public sealed partial class S3Driver : IDriver, IChunkedReader, IChunkedWriter, INativeMove, INativeCopy, IFileStat, ITimestampResolution
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
    private readonly OwnChanges _own = new(OwnChangeLifetime);
    private readonly ConcurrentDictionary<string, UploadSession> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ReadAhead> _readAheads = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _stateLock = new(1, 1);
    // This driver's own writes of one key take turns: their checks then see each other's results, and radosgw answers
    // 500 to conditional PUTs of one object that race each other.
    private readonly PathLocks _keyLocks = new();
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

    /// <inheritdoc />
    /// <remarks>Zero: a revision holds the object's ETag, which changes with every write whatever the time.</remarks>
    public TimeSpan GetTimestampResolution(Metadata file) => TimeSpan.Zero;

    /// <summary>The ETag part of a revision this driver made, or null.</summary>
    internal static string? ETagOf(string? revision)
    {
        var colon = revision?.LastIndexOf(':') ?? -1;
        return colon > 0 ? revision![..colon] : null;
    }

    private void RecordOwn(string key, string? revision)
    {
        if (revision is null) _own.RecordDelete(key);
        else _own.RecordWrite(key, revision);
    }

    private ValueTask<IDisposable> LockAsync(string key, CancellationToken cancellationToken) =>
        _keyLocks.AcquireAsync(key, cancellationToken);

    private ValueTask<IDisposable> LockAsync(string first, string second, CancellationToken cancellationToken) =>
        _keyLocks.AcquireAsync(first, second, cancellationToken);

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

        // Reports of changed and new objects are kept in flight together, as many as the driver has connections: each
        // may wait for a content check that reads the object (a first pairing, a lost state database), and one at a
        // time the store's latency is paid once an object, in sequence. Moves and deletions wait for them.
        var reports = new ReportWindow(_options.Concurrency);
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
                    _own.Forget(item.Key);
                    continue;
                }
                if (previous is null) fresh.Add(found);
                else await reports.AddAsync(ReportFoundAsync(item.Key, found, cancellationToken)).ConfigureAwait(false);
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
                && !_own.IsOwn(prefix + source.Path, null) && !_own.IsOwn(prefix + found.Path, found.Revision))
            {
                known.Remove(source.Path);
                await reports.DrainAsync().ConfigureAwait(false);
                await _plug.MoveFileAsync(new Metadata(folder, source.Path), found, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await reports.AddAsync(ReportFoundAsync(prefix + found.Path, found, cancellationToken)).ConfigureAwait(false);
            }
        }
        await reports.DrainAsync().ConfigureAwait(false);
        foreach (var metadata in known.Values)
        {
            var key = prefix + metadata.Path;
            if (_own.IsOwn(key, null))
                continue;
            await _plug.DeleteFileAsync(new Metadata(folder, metadata.Path), cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask ReportFoundAsync(string key, Metadata found, CancellationToken cancellationToken)
    {
        if (_own.IsOwn(key, found.Revision))
            return;
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
