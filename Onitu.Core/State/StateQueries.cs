using Microsoft.Data.Sqlite;

namespace Onitu.State;

/// <summary>
/// The reads that answer questions about the state (the engine's public queries, its reports, the dry run's plan,
/// the deletion guard's counts): every one a page or an aggregate computed by SQLite, never a load of every file.
/// They run on the store's read connections, beside the writer.
/// </summary>
internal sealed class StateQueries(MetadataStore store)
{
    private const string FileColumns = "f.fid, f.folder, f.path, f.size, f.mime, f.version, f.origin, f.modified_at";

    /// <summary>A page of live files ordered by folder and path (owners not filled in).</summary>
    public Task<List<(string Fid, FileEntry Entry)>> FilesAsync(string? folder, int offset, int limit, CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync(
            $"SELECT {FileColumns} FROM files f WHERE f.deleted = 0 AND ($folder IS NULL OR f.folder = $folder) ORDER BY f.folder, f.path LIMIT $limit OFFSET $offset",
            p =>
            {
                p.AddWithValue("$folder", (object?)folder ?? DBNull.Value);
                p.AddWithValue("$limit", limit);
                p.AddWithValue("$offset", offset);
            }, ReadFileRow, cancellationToken), cancellationToken);

    /// <summary>The live file <paramref name="fid"/>, as a list of zero or one (owners not filled in).</summary>
    public Task<List<(string Fid, FileEntry Entry)>> FileAsync(Guid fid, CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync(
            $"SELECT {FileColumns} FROM files f WHERE f.fid = $fid AND f.deleted = 0",
            p => p.AddWithValue("$fid", StoreTransaction.Key(fid)), ReadFileRow, cancellationToken), cancellationToken);

    /// <summary>Which services hold each of <paramref name="fids"/>, and whether their copy is the current version.</summary>
    public Task<List<(string Fid, string Service, bool Current)>> HoldersAsync(IEnumerable<string> fids, CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync(
            "SELECT f.fid, r.service, r.version = f.version FROM replicas r JOIN files f ON f.id = r.file" +
            " WHERE f.fid IN (SELECT value FROM json_each($fids)) AND r.revision IS NOT NULL",
            p => p.AddWithValue("$fids", JsonText.Array(fids)), r => (r.GetString(0), r.GetString(1), r.GetInt64(2) != 0),
            cancellationToken), cancellationToken);

    /// <summary>Which services are about to receive each of <paramref name="fids"/> (a pending copy or move).</summary>
    public Task<List<(string Fid, string Service)>> ReceiversAsync(IEnumerable<string> fids, CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync(
            "SELECT f.fid, j.target FROM jobs j JOIN files f ON f.id = j.file WHERE f.fid IN (SELECT value FROM json_each($fids)) AND j.kind <> $delete",
            p =>
            {
                p.AddWithValue("$fids", JsonText.Array(fids));
                p.AddWithValue("$delete", (int)JobKind.Delete);
            }, r => (r.GetString(0), r.GetString(1)), cancellationToken), cancellationToken);

    /// <summary>
    /// A page of persisted jobs, oldest first; <paramref name="active"/> holds the <c>fid\ntarget</c> keys running now,
    /// and with <paramref name="activeOnly"/> only those are listed.
    /// </summary>
    public Task<List<TransferEntry>> TransfersAsync(IReadOnlySet<string> active, bool activeOnly, int offset, int limit, CancellationToken cancellationToken)
    {
        var filter = activeOnly ? " AND (f.fid || char(10) || j.target) IN (SELECT value FROM json_each($active))" : "";
        return ToListAsync(store.QueryAsync(
            "SELECT f.fid, f.folder, f.path, f.size, j.kind, f.origin, j.target, j.offset, j.attempts, j.last_error, j.not_before" +
            " FROM jobs j JOIN files f ON f.id = j.file WHERE 1 = 1" + filter + " ORDER BY j.id LIMIT $limit OFFSET $offset",
            p =>
            {
                p.AddWithValue("$active", JsonText.Array(active));
                p.AddWithValue("$limit", limit);
                p.AddWithValue("$offset", offset);
            },
            r => new TransferEntry(Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetInt64(3), (TransferKind)r.GetInt32(4),
                r.GetString(5), r.GetString(6), r.GetInt64(7), r.GetInt32(8), r.IsDBNull(9) ? null : r.GetString(9),
                r.GetInt64(10) == 0 ? null : new DateTimeOffset(r.GetInt64(10), TimeSpan.Zero),
                active.Contains(r.GetString(0) + "\n" + r.GetString(6))),
            cancellationToken), cancellationToken);
    }

    /// <summary>How many jobs are pending (for every target, or for <paramref name="target"/>).</summary>
    public async Task<long> PendingJobsAsync(string? target, CancellationToken cancellationToken) =>
        (await ToListAsync(store.QueryAsync("SELECT count(*) FROM jobs WHERE $target IS NULL OR target = $target",
            p => p.AddWithValue("$target", (object?)target ?? DBNull.Value), r => r.GetInt64(0), cancellationToken),
            cancellationToken).ConfigureAwait(false))[0];

    /// <summary>How many jobs are pending, read on the caller's thread (for synchronous snapshots).</summary>
    public long PendingJobs() => store.QueryScalar<long>("SELECT count(*) FROM jobs");

    /// <summary>The distinct errors of the jobs still pending, at most <paramref name="limit"/>.</summary>
    public Task<List<string>> PendingErrorsAsync(int limit, CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync("SELECT DISTINCT last_error FROM jobs WHERE last_error IS NOT NULL LIMIT $limit",
            p => p.AddWithValue("$limit", limit), r => r.GetString(0), cancellationToken), cancellationToken);

    /// <summary>How many live files, and how many bytes, <paramref name="service"/> holds at their current version.</summary>
    public async Task<(long Files, long Bytes)> HeldAsync(string service, CancellationToken cancellationToken) =>
        (await ToListAsync(store.QueryAsync(
            "SELECT count(*), coalesce(sum(f.size), 0) FROM replicas r JOIN files f ON f.id = r.file" +
            " WHERE r.service = $service AND r.revision IS NOT NULL AND r.version = f.version AND f.deleted = 0",
            p => p.AddWithValue("$service", service), r => (r.GetInt64(0), r.GetInt64(1)), cancellationToken),
            cancellationToken).ConfigureAwait(false))[0];

    /// <summary>How many files of <paramref name="folder"/> <paramref name="service"/> holds in any version.</summary>
    public long HeldIn(string service, string folder) => store.QueryScalar<long>(
        "SELECT count(*) FROM replicas r JOIN files f ON f.id = r.file WHERE r.service = $service AND f.folder = $folder AND r.revision IS NOT NULL",
        p =>
        {
            p.AddWithValue("$service", service);
            p.AddWithValue("$folder", folder);
        });

    /// <summary>Every pending job as a planned action, by folder, path and target (a dry run's plan).</summary>
    public Task<List<PlannedAction>> PlannedActionsAsync(CancellationToken cancellationToken) =>
        ToListAsync(store.QueryAsync(
            """
            SELECT j.kind, j.target, f.folder, f.path, j.preserve_as, m.path
            FROM jobs j JOIN files f ON f.id = j.file LEFT JOIN files m ON m.id = j.move_from
            WHERE j.kind <> 3 -- an abandoned partial upload's cleanup is no change a user plans for
            ORDER BY f.folder, f.path, j.target
            """,
            _ => { },
            r => new PlannedAction(
                (JobKind)r.GetInt32(0) switch
                {
                    JobKind.Delete => PlannedActionKind.Delete,
                    JobKind.Move => PlannedActionKind.Move,
                    _ => PlannedActionKind.Copy,
                },
                r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(4) ? null : r.GetString(4)),
            cancellationToken), cancellationToken);

    /// <summary>A driver's own persisted value (<see cref="IDriverStateStore"/>), or null.</summary>
    public string? DriverState(string service, string key) =>
        store.QueryScalar<string>("SELECT value FROM driver_state WHERE service = $s AND key = $k", p =>
        {
            p.AddWithValue("$s", service);
            p.AddWithValue("$k", key);
        });

    private static (string Fid, FileEntry Entry) ReadFileRow(SqliteDataReader r) => (r.GetString(0), new FileEntry(
        Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4),
        r.IsDBNull(7) ? null : new DateTimeOffset(r.GetInt64(7), TimeSpan.Zero), r.GetString(6), [], []));

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> rows, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            list.Add(row);
        return list;
    }
}
