using System.Text.Json;
using Microsoft.Data.Sqlite;
using Onitu.State;

namespace Onitu;

/// <summary>Queries of the engine's state: files, transfers, statistics. Each reads a page, never every file.</summary>
public sealed partial class SyncEngine
{
    private const string FileColumns = "f.fid, f.folder, f.path, f.size, f.mime, f.version, f.origin, f.modified_at";

    /// <summary>
    /// Lists the files (deleted ones excluded) ordered by folder and path, <paramref name="limit"/> from
    /// <paramref name="offset"/>, each with the services that hold it and those up to date.
    /// </summary>
    /// <param name="folder">Only this folder, or every folder when null.</param>
    /// <param name="offset">How many files to skip.</param>
    /// <param name="limit">The most files returned (1 to 1000).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<IReadOnlyList<FileEntry>> GetFilesAsync(string? folder = null, int offset = 0, int limit = 20,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        var rows = await ToListAsync(_coordinator.Store.QueryAsync(
            $"SELECT {FileColumns} FROM files f WHERE f.deleted = 0 AND ($folder IS NULL OR f.folder = $folder) ORDER BY f.folder, f.path LIMIT $limit OFFSET $offset",
            p =>
            {
                p.AddWithValue("$folder", (object?)folder ?? DBNull.Value);
                p.AddWithValue("$limit", limit);
                p.AddWithValue("$offset", offset);
            }, ReadFileRow, cancellationToken), cancellationToken).ConfigureAwait(false);
        return await WithOwnersAsync(rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the file with id <paramref name="fid"/> (deleted ones excluded), or null.</summary>
    public async Task<FileEntry?> GetFileAsync(Guid fid, CancellationToken cancellationToken = default)
    {
        var rows = await ToListAsync(_coordinator.Store.QueryAsync(
            $"SELECT {FileColumns} FROM files f WHERE f.fid = $fid AND f.deleted = 0",
            p => p.AddWithValue("$fid", StoreTransaction.Key(fid)), ReadFileRow, cancellationToken), cancellationToken).ConfigureAwait(false);
        var entries = await WithOwnersAsync(rows, cancellationToken).ConfigureAwait(false);
        return entries.Count == 0 ? null : entries[0];
    }

    /// <summary>
    /// Lists persisted transfers (uploads, deletions, moves) oldest first: those running now when
    /// <paramref name="activeOnly"/>, else every pending one, <paramref name="limit"/> from <paramref name="offset"/>.
    /// </summary>
    public async Task<IReadOnlyList<TransferEntry>> GetTransfersAsync(bool activeOnly = false, int offset = 0, int limit = 100,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        var active = _scheduler.InFlightKeys.Select(k => StoreTransaction.Key(k.Fid) + "\n" + k.Target).ToHashSet(StringComparer.Ordinal);
        if (activeOnly && active.Count == 0)
            return [];
        var filter = activeOnly ? " AND (j.fid || char(10) || j.target) IN (SELECT value FROM json_each($active))" : "";
        return await ToListAsync(_coordinator.Store.QueryAsync(
            "SELECT j.fid, f.folder, f.path, f.size, j.kind, f.origin, j.target, j.offset, j.attempts, j.last_error, j.not_before" +
            " FROM jobs j JOIN files f ON f.fid = j.fid WHERE 1 = 1" + filter + " ORDER BY j.id LIMIT $limit OFFSET $offset",
            p =>
            {
                p.AddWithValue("$active", JsonSerializer.Serialize(active));
                p.AddWithValue("$limit", limit);
                p.AddWithValue("$offset", offset);
            },
            r => new TransferEntry(Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetInt64(3), (TransferKind)r.GetInt32(4),
                r.GetString(5), r.GetString(6), r.GetInt64(7), r.GetInt32(8), r.IsDBNull(9) ? null : r.GetString(9),
                r.GetInt64(10) == 0 ? null : new DateTimeOffset(r.GetInt64(10), TimeSpan.Zero),
                active.Contains(r.GetString(0) + "\n" + r.GetString(6))),
            cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How much work is pending and done, without blocking the caller on the database.</summary>
    public async Task<SyncProgress> GetProgressAsync(CancellationToken cancellationToken = default)
    {
        var pending = await ToListAsync(_coordinator.Store.QueryAsync("SELECT count(*) FROM jobs", _ => { }, r => r.GetInt64(0), cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return new SyncProgress(pending[0], _scheduler.ActiveCount, _executor.BytesTransferred, _executor.JobsCompleted) { SchedulerFault = _scheduler.Fault };
    }

    /// <summary>What the service named <paramref name="service"/> holds and did.</summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    public async Task<ServiceStatistics> GetServiceStatisticsAsync(string service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (!_coordinator.Hosts.TryGetValue(service, out var host))
            throw new ServiceNotFoundException(service);
        var held = await ToListAsync(_coordinator.Store.QueryAsync(
            "SELECT count(*), coalesce(sum(f.size), 0) FROM replicas r JOIN files f ON f.fid = r.fid" +
            " WHERE r.service = $service AND r.revision IS NOT NULL AND r.version = f.version AND f.deleted = 0",
            p => p.AddWithValue("$service", service), r => (Files: r.GetInt64(0), Bytes: r.GetInt64(1)), cancellationToken),
            cancellationToken).ConfigureAwait(false);
        var pending = await ToListAsync(_coordinator.Store.QueryAsync("SELECT count(*) FROM jobs WHERE target = $service",
            p => p.AddWithValue("$service", service), r => r.GetInt64(0), cancellationToken), cancellationToken).ConfigureAwait(false);
        var counters = _coordinator.Metrics!.Counters(service);
        var status = host.Status;
        return new ServiceStatistics(service, status.Driver, status.State, status.Reason, status.Since,
            status.State == ServiceState.Stopped ? null : counters.RunningSince, held[0].Files, held[0].Bytes, pending[0],
            counters.BytesWritten, counters.TransfersDone, counters.TransfersFailed, counters.Rate(_coordinator.Clock.GetUtcNow()),
            counters.LastError, counters.LastErrorAt);
    }

    private static (string Fid, FileEntry Entry) ReadFileRow(SqliteDataReader r) => (r.GetString(0), new FileEntry(
        Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4),
        r.IsDBNull(7) ? null : new DateTimeOffset(r.GetInt64(7), TimeSpan.Zero), r.GetString(6), [], []));

    /// <summary>Fills owners and up-to-date services of a page of files with two queries for the whole page.</summary>
    private async Task<IReadOnlyList<FileEntry>> WithOwnersAsync(List<(string Fid, FileEntry Entry)> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return [];
        var fids = JsonSerializer.Serialize(rows.Select(r => r.Fid));
        var holders = await ToListAsync(_coordinator.Store.QueryAsync(
            "SELECT r.fid, r.service, r.version = f.version FROM replicas r JOIN files f ON f.fid = r.fid" +
            " WHERE r.fid IN (SELECT value FROM json_each($fids)) AND r.revision IS NOT NULL",
            p => p.AddWithValue("$fids", fids), r => (Fid: r.GetString(0), Service: r.GetString(1), Current: r.GetInt64(2) != 0),
            cancellationToken), cancellationToken).ConfigureAwait(false);
        var receiving = await ToListAsync(_coordinator.Store.QueryAsync(
            "SELECT fid, target FROM jobs WHERE fid IN (SELECT value FROM json_each($fids)) AND kind <> $delete",
            p =>
            {
                p.AddWithValue("$fids", fids);
                p.AddWithValue("$delete", (int)JobKind.Delete);
            }, r => (Fid: r.GetString(0), Service: r.GetString(1)), cancellationToken), cancellationToken).ConfigureAwait(false);

        var order = Setup.Services.Select((s, i) => (s.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        int Rank(string service) => order.GetValueOrDefault(service, int.MaxValue);
        return [.. rows.Select(row =>
        {
            var owners = holders.Where(h => h.Fid == row.Fid).Select(h => h.Service)
                .Concat(receiving.Where(j => j.Fid == row.Fid).Select(j => j.Service))
                .Distinct(StringComparer.Ordinal).OrderBy(Rank).ToList();
            var upToDate = holders.Where(h => h.Fid == row.Fid && h.Current).Select(h => h.Service).OrderBy(Rank).ToList();
            return row.Entry with { Owners = owners, UpToDate = upToDate };
        })];
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> rows, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            list.Add(row);
        return list;
    }
}
