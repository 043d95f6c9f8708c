using Onitu.State;

namespace Onitu;

/// <summary>Queries of the engine's state: files, transfers, statistics. Each reads a page, never every file.</summary>
public sealed partial class SyncEngine
{
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
        var rows = await Queries.FilesAsync(folder, offset, limit, cancellationToken).ConfigureAwait(false);
        return await WithOwnersAsync(rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the file with id <paramref name="fid"/> (deleted ones excluded), or null.</summary>
    public async Task<FileEntry?> GetFileAsync(Guid fid, CancellationToken cancellationToken = default)
    {
        var rows = await Queries.FileAsync(fid, cancellationToken).ConfigureAwait(false);
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
        return await Queries.TransfersAsync(active, activeOnly, offset, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How much work is pending and done, without blocking the caller on the database.</summary>
    public async Task<SyncProgress> GetProgressAsync(CancellationToken cancellationToken = default)
    {
        var pending = await Queries.PendingJobsAsync(target: null, cancellationToken).ConfigureAwait(false);
        return new SyncProgress(pending, _scheduler.ActiveCount, _executor.BytesTransferred, _executor.JobsCompleted) { SchedulerFault = _scheduler.Fault };
    }

    /// <summary>What the service named <paramref name="service"/> holds and did.</summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    public async Task<ServiceStatistics> GetServiceStatisticsAsync(string service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (!_coordinator.Hosts.TryGetValue(service, out var host))
            throw new ServiceNotFoundException(service);
        var held = await Queries.HeldAsync(service, cancellationToken).ConfigureAwait(false);
        var pending = await Queries.PendingJobsAsync(service, cancellationToken).ConfigureAwait(false);
        var counters = _metrics.Counters(service);
        var status = host.Status;
        return new ServiceStatistics(service, status.Driver, status.State, status.Reason, status.Since,
            status.State == ServiceState.Stopped ? null : counters.RunningSince, held.Files, held.Bytes, pending,
            counters.BytesWritten, counters.TransfersDone, counters.TransfersFailed, counters.Rate(_coordinator.Clock.GetUtcNow()),
            counters.LastError, counters.LastErrorAt);
    }

    /// <summary>Fills owners and up-to-date services of a page of files with two queries for the whole page.</summary>
    private async Task<IReadOnlyList<FileEntry>> WithOwnersAsync(List<(string Fid, FileEntry Entry)> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return [];
        var fids = rows.Select(r => r.Fid).ToList();
        var holders = await Queries.HoldersAsync(fids, cancellationToken).ConfigureAwait(false);
        var receiving = await Queries.ReceiversAsync(fids, cancellationToken).ConfigureAwait(false);

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

    private StateQueries Queries => _coordinator.Store.Queries;
}
