using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Services;

/// <summary>The <see cref="IPlug"/> the engine hands one service's driver.</summary>
internal sealed class ServicePlug : IPlug, IDriverStateStore
{
    private readonly SyncCoordinator _coordinator;

    public ServicePlug(SyncCoordinator coordinator, string serviceName, IReadOnlyList<FolderMapping> folders,
        DriverOptions options, string baseDirectory, ILogger logger)
    {
        _coordinator = coordinator;
        ServiceName = serviceName;
        Deletions = new DeletionGuard(coordinator, serviceName);
        Folders = folders;
        Options = options;
        BaseDirectory = baseDirectory;
        Logger = logger;
    }

    public string ServiceName { get; }
    public IReadOnlyList<FolderMapping> Folders { get; }
    public DriverOptions Options { get; }
    public string BaseDirectory { get; }
    public ILogger Logger { get; }
    public IDriverStateStore State => this;
    public bool DryRun => _coordinator.DryRun;
    public bool SinglePass => _coordinator.SinglePass;

    /// <summary>Holds back the deletions of a startup scan until it is judged (see <see cref="DeletionGuard"/>).</summary>
    public DeletionGuard Deletions { get; }

    private MetadataStore Store => _coordinator.Store;

    // When the scan under way began (engine clock ticks), 0 between scans.
    private long _scanStartedAt;

    /// <summary>A scan of this service begins now: its reports are judged racily clean against this moment.</summary>
    internal void BeginScan() => Volatile.Write(ref _scanStartedAt, _coordinator.Clock.GetUtcNow().UtcTicks);

    internal void EndScan() => Volatile.Write(ref _scanStartedAt, 0);

    /// <summary>
    /// Whether a report is racily clean. A scan's report is judged against the scan's start: a driver lists first and
    /// reports after (an ssh scan lists the whole tree, then keeps reports waiting for content checks in flight), so a
    /// report may come seconds after the look at its file, and judged then, a file written just before that look and
    /// rewritten in its second could pass for clean. The start is no later than any look of the scan: a report judged
    /// against it is racy whenever it was at its look, and sometimes more (a file written during the scan).
    /// </summary>
    private bool IsRacy(Onitu.Metadata metadata)
    {
        var scanStartedAt = Volatile.Read(ref _scanStartedAt);
        return _coordinator.IsRacy(ServiceName, metadata, scanStartedAt == 0 ? null : new DateTimeOffset(scanStartedAt, TimeSpan.Zero));
    }

    public ValueTask UpdateFileAsync(Onitu.Metadata metadata, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        CheckFolder(metadata);
        if (FolderMarkers.IsMarker(metadata.Path))
            return ValueTask.CompletedTask; // the engine's own file, never synced
        _coordinator.Skips.Clear(ServiceName, metadata.Folder, metadata.Path);
        // Judged now, before the report waits for the writer (during a scan, at its start; see IsRacy).
        var racy = IsRacy(metadata);
        return ApplyUpdateAsync(tx => _coordinator.Processor.ApplyUpdate(tx, ServiceName, metadata), metadata, racy, cancellationToken);
    }

    /// <summary>
    /// Applies a change; when the engine cannot decide it without comparing contents, compares them (reading the
    /// files, outside the writer) and applies the update again with the result.
    /// </summary>
    private async ValueTask ApplyUpdateAsync(Func<StoreTransaction, ChangeOutcome> change, Onitu.Metadata reported, bool racy,
        CancellationToken cancellationToken)
    {
        if (racy)
        {
            var unmarked = change;
            change = tx => MarkRacy(tx, unmarked(tx), reported);
        }
        var outcome = await Store.WriteAsync(change, cancellationToken).ConfigureAwait(false);
        // The file may get a new version while its content is compared; a few tries, then a conflict keeps both.
        const int MaxComparisons = 3;
        for (var attempt = 0; outcome.ContentCheckNeeded is { } file; attempt++)
        {
            _coordinator.AfterCommit(outcome);
            var check = attempt < MaxComparisons
                ? await ContentIdentity.CheckAsync(_coordinator, ServiceName, reported, file, cancellationToken).ConfigureAwait(false)
                : null;
            outcome = await Store.WriteAsync(tx =>
            {
                var applied = _coordinator.Processor.ApplyUpdate(tx, ServiceName, reported,
                    check ?? new ContentCheck(tx.GetFile(file.Fid)?.Version ?? file.Version, null, Same: false));
                return racy ? MarkRacy(tx, applied, reported) : applied;
            }, cancellationToken).ConfigureAwait(false);
            if (check is { Same: true } && outcome.ContentCheckNeeded is null)
                Diagnostics.Log.SameContentRecognised(_coordinator.Logger, ServiceName, reported.Folder, reported.Path, check.Version);
        }
        _coordinator.AfterCommit(outcome);
        if (racy && !DryRun)
            await ContentIdentity.RecordRacyHashAsync(_coordinator, ServiceName, reported, cancellationToken).ConfigureAwait(false);
    }

    // What was just recorded of a racily clean report is checked again at the next scan.
    private ChangeOutcome MarkRacy(StoreTransaction tx, ChangeOutcome outcome, Onitu.Metadata reported)
    {
        if (outcome.ContentCheckNeeded is null)
            tx.MarkRacy(reported.Fid, ServiceName, reported.Revision);
        return outcome;
    }

    public ValueTask DeleteFileAsync(Onitu.Metadata metadata, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        CheckFolder(metadata);
        if (FolderMarkers.IsMarker(metadata.Path) || Deletions.TryHold(metadata))
            return ValueTask.CompletedTask;
        return ApplyDeleteAsync(metadata, cancellationToken);
    }

    /// <summary>Applies a deletion now (also how the <see cref="DeletionGuard"/> releases the ones it held).</summary>
    public ValueTask ApplyDeleteAsync(Onitu.Metadata metadata, CancellationToken cancellationToken) =>
        _coordinator.ApplyAsync(tx => _coordinator.Processor.ApplyDelete(tx, ServiceName, metadata), cancellationToken);

    public ValueTask MoveFileAsync(Onitu.Metadata source, Onitu.Metadata destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        CheckFolder(source);
        CheckFolder(destination);
        if (FolderMarkers.IsMarker(source.Path))
            return UpdateFileAsync(destination, cancellationToken);
        if (FolderMarkers.IsMarker(destination.Path))
            return DeleteFileAsync(source, cancellationToken);
        // A move onto a path the engine knows with other content may need a content comparison, like an update.
        return ApplyUpdateAsync(tx => _coordinator.Processor.ApplyMove(tx, ServiceName, source, destination), destination,
            IsRacy(destination), cancellationToken);
    }

    public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(reason);
        _coordinator.Skips.Report(ServiceName, folder, path, reason);
        return ValueTask.CompletedTask;
    }

    public async ValueTask<Onitu.Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default)
    {
        var metadata = new Onitu.Metadata(folder, path);
        await foreach (var known in Query(
            "WHERE f.fid = $fid", p => p.AddWithValue("$fid", StoreTransaction.Key(metadata.Fid)), cancellationToken).ConfigureAwait(false))
        {
            return known;
        }
        return metadata;
    }

    public async IAsyncEnumerable<Onitu.Metadata> ListFilesAsync(string folder, string? directory = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // '0' follows '/' in code-point order: [prefix + '/', prefix + '0') is everything under the directory.
        var prefix = string.IsNullOrEmpty(directory) ? null : FilePath.Normalize(directory);
        // Read a page at a time, each page in a short read transaction of its own (keyset on the path, the order of
        // the index): a scan merges the listing with its walk of the disk without holding every known file in
        // memory, and no read transaction stays open while the scan's own reports are committed (which would keep
        // the WAL from being checkpointed).
        var after = "";
        while (true)
        {
            var page = new List<Onitu.Metadata>(ListPageSize);
            await foreach (var metadata in Query(
                "WHERE f.folder = $folder AND r.revision IS NOT NULL AND f.path > $after" +
                (prefix is null ? "" : " AND f.path >= $low AND f.path < $high") + " ORDER BY f.path LIMIT $limit",
                p =>
                {
                    p.AddWithValue("$folder", folder);
                    p.AddWithValue("$after", after);
                    p.AddWithValue("$limit", ListPageSize);
                    if (prefix is not null)
                    {
                        p.AddWithValue("$low", prefix + "/");
                        p.AddWithValue("$high", prefix + "0");
                    }
                }, cancellationToken, smudgeRacy: true).ConfigureAwait(false))
            {
                page.Add(metadata);
            }
            foreach (var metadata in page)
                yield return metadata;
            if (page.Count < ListPageSize)
                yield break;
            after = page[^1].Path;
        }
    }

    private const int ListPageSize = 1024;

    /// <summary>
    /// Reads what this service holds; with <paramref name="smudgeRacy"/> (a listing for a scan) a racily clean
    /// replica comes without its revision, as Git smudges racy index entries, so that the scan reports it again and its
    /// content is checked. A single file's metadata keeps its revision: compare-and-swap writes need the real one.
    /// </summary>
    /// <remarks>
    /// A scan reads every row of the listing, and each column read is a call into SQLite: the row has five columns,
    /// none of them NULL (SQL maps the absent values to sentinels below), so none needs a NULL test of its own.
    /// </remarks>
    private async IAsyncEnumerable<Onitu.Metadata> Query(string where, Action<Microsoft.Data.Sqlite.SqliteParameterCollection> bind,
        [EnumeratorCancellation] CancellationToken cancellationToken, bool smudgeRacy = false)
    {
        // Revisions and extra data are never empty strings (drivers' revisions are required to be non-empty, extra data
        // is a JSON object), and times are never negative: "" and -1 stand for "none".
        var sql = "SELECT f.folder, f.path, f.size, coalesce(f.modified_at, -1), " +
                  (smudgeRacy ? "CASE WHEN r.racy THEN '' ELSE coalesce(r.revision, '') END" : "coalesce(r.revision, '')") +
                  ", coalesce(r.extra, '') FROM files f JOIN replicas r ON r.file = f.id AND r.service = $service " + where;
        await foreach (var metadata in Store.QueryAsync(sql, p =>
                       {
                           p.AddWithValue("$service", ServiceName);
                           bind(p);
                       }, r =>
                       {
                           var modifiedAt = r.GetInt64(3);
                           var revision = r.GetString(4);
                           var extra = r.GetString(5);
                           var m = new Onitu.Metadata(r.GetString(0), r.GetString(1))
                           {
                               Size = r.GetInt64(2),
                               ModifiedAt = modifiedAt < 0 ? null : new DateTimeOffset(modifiedAt, TimeSpan.Zero),
                               Revision = revision.Length == 0 ? null : revision,
                           };
                           if (extra.Length > 0)
                               ChangeProcessor.DeserializeExtra(extra, m.Extra);
                           return m;
                       }, cancellationToken).ConfigureAwait(false))
        {
            yield return metadata;
        }
    }

    ValueTask<string?> IDriverStateStore.GetAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Store.Queries.DriverState(ServiceName, key));

    async ValueTask IDriverStateStore.SetAsync(string key, string? value, CancellationToken cancellationToken) =>
        await Store.WriteAsync(tx => tx.SetDriverState(ServiceName, key, value), cancellationToken).ConfigureAwait(false);

    private void CheckFolder(Onitu.Metadata metadata)
    {
        foreach (var folder in Folders)
        {
            if (folder.Name == metadata.Folder)
                return;
        }
        throw new DriverException($"Service '{ServiceName}' reported a file in folder '{metadata.Folder}', which is not mapped on it.");
    }
}
