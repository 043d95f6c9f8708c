using Microsoft.Data.Sqlite;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu;

public sealed partial class SyncEngine
{
    /// <summary>
    /// Plans a pass without doing it: scans every service and lists what a <see cref="SyncOnceAsync"/> would copy,
    /// delete, move and keep as a conflict copy, and what a safety guard would refuse (a missing folder marker, a
    /// mass deletion). Nothing changes on any store, nor in the state database: the pass runs against a temporary
    /// copy of the database, deleted afterwards. What the careful user runs before a first pass on big trees.
    /// </summary>
    /// <exception cref="InvalidOperationException">The engine is running.</exception>
    public async Task<SyncPlan> DryRunAsync(CancellationToken cancellationToken = default)
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running is not null)
                throw new InvalidOperationException("The engine is running; a dry run plans a pass of a stopped engine.");
        }

        var copy = Path.Combine(Path.GetTempPath(), $"onitu-dry-run-{Guid.NewGuid():N}.db");
        try
        {
            using (var source = _coordinator.Store.OpenReader())
            using (var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString()))
            {
                await target.OpenAsync(cancellationToken).ConfigureAwait(false);
                source.BackupDatabase(target);
            }

            var options = _coordinator.Options;
            var dryOptions = new SyncEngineOptions
            {
                Setup = Setup,
                DatabasePath = copy,
                ChunkSize = options.ChunkSize,
                MaxParallelTransfers = options.MaxParallelTransfers,
                MaxDelete = options.MaxDelete,
                Force = options.Force,
                RetryBaseDelay = options.RetryBaseDelay,
                MaxRetryDelay = options.MaxRetryDelay,
            };
            var dry = Create(dryOptions, Drivers, _coordinator.LoggerFactory, _coordinator.Clock, dryRun: true);
            await using (dry.ConfigureAwait(false))
                return await dry.PlanAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { copy, copy + "-wal", copy + "-shm", copy + ".lock", copy + ".lock.owner" })
                File.Delete(file);
        }
    }

    /// <summary>The dry run's own pass, on its copy of the database: scans, then reads the work they left.</summary>
    private async Task<SyncPlan> PlanAsync(CancellationToken cancellationToken)
    {
        var conflicts = new List<ConflictDetected>();
        EventRaised += (_, e) =>
        {
            if (e is ConflictDetected conflict)
            {
                lock (conflicts)
                    conflicts.Add(conflict);
            }
        };

        using var pass = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await Reconciler.RunIfChangedAsync(_coordinator, Setup, pass.Token).ConfigureAwait(false);
        var hosts = _coordinator.Hosts.Values.Select(h => Task.Run(() => h.RunAsync(watch: false, pass.Token), CancellationToken.None)).ToList();
        var refusals = new List<string>();
        try
        {
            await Task.WhenAll(_coordinator.Hosts.Values.Select(h => h.FirstScanAttempted)).WaitAsync(cancellationToken).ConfigureAwait(false);
            foreach (var host in _coordinator.Hosts.Values)
            {
                if (host.Status is { State: ServiceState.Failing, Reason: var reason })
                    refusals.Add($"service '{host.Name}' is failing: {reason}");
            }
        }
        finally
        {
            await pass.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(hosts).ConfigureAwait(false);
        }

        var actions = await _coordinator.Store.Queries.PlannedActionsAsync(cancellationToken).ConfigureAwait(false);
        List<ConflictDetected> detected;
        lock (conflicts)
            detected = [.. conflicts];
        return new SyncPlan(actions, detected, refusals, _coordinator.Skips.Snapshot());
    }
}
