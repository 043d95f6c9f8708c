using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

/// <summary>
/// Picks due jobs from the store and runs them, at most <see cref="SyncEngineOptions.MaxParallelTransfers"/> at a
/// time (or what a ready service's driver asks for, <see cref="ITransferConcurrency"/>, if more), oldest first. A job
/// whose row a newer change rewrote while it ran is cancelled (its transfer aborted) and picked again with its new
/// content.
/// </summary>
internal sealed class TransferScheduler
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(500);

    private readonly SyncCoordinator _coordinator;
    private readonly TransferExecutor _executor;
    private readonly ConcurrentDictionary<(Guid Fid, string Target), InFlightJob> _inFlight = new();
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _slots;
    private int _slotCount;
    private const int CandidateBatchSize = 256;
    private readonly Queue<ScheduledJob> _candidates = new(); // read ahead from the store; only the dispatch loop uses it
    // Jobs a change rewrote or removed, or that ran, since the queued candidates were read: those candidates are
    // stale and skipped (the next lap reads them afresh).
    private readonly ConcurrentDictionary<(Guid Fid, string Target), long> _changedSince = new();
    private long _changeSequence;
    private long _cursor;
    private string? _fault;
    private bool _lapDispatched;

    public TransferScheduler(SyncCoordinator coordinator, TransferExecutor executor)
    {
        _coordinator = coordinator;
        _executor = executor;
        _slotCount = coordinator.Options.MaxParallelTransfers;
        _slots = new SemaphoreSlim(_slotCount);
        coordinator.Jobs.Rewritten += OnJobsChanged;
        coordinator.Jobs.Ready += Signal;
    }

    private int MaxAttempts => _coordinator.Jobs.MaxAttempts;

    public int ActiveCount => _inFlight.Count;

    /// <summary>The jobs running now (for status queries).</summary>
    public ICollection<(Guid Fid, string Target)> InFlightKeys => _inFlight.Keys;

    public void Signal() => _signal.Writer.TryWrite(true);

    /// <summary>
    /// Completes when the jobs in flight have all ended (a new task for each such moment): a pass waiting for the
    /// engine to settle looks again then, rather than up to a poll interval later.
    /// </summary>
    public Task AllLanded => Volatile.Read(ref _allLanded).Task;
    private TaskCompletionSource _allLanded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called after a change rewrote or removed jobs: their transfers in flight are stale.</summary>
    public void OnJobsChanged(IEnumerable<(Guid Fid, string Target)> jobs)
    {
        var sequence = Interlocked.Increment(ref _changeSequence);
        foreach (var key in jobs)
        {
            _changedSince[key] = sequence;
            if (_inFlight.TryGetValue(key, out var flight))
                flight.Supersede();
        }
        Signal();
    }

    /// <summary>Why the dispatch loop last failed, until a lap succeeds again; null when it runs normally.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    /// <summary>
    /// Runs the dispatch loop until <paramref name="cancellationToken"/> fires. The loop is supervised: a failure
    /// (the store unreadable for a moment, a bug) is logged, published as <see cref="EngineFaulted"/>, shown in
    /// <see cref="Fault"/>, and the loop starts again after a backoff; nothing is lost, since every job is persisted.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var running = new ConcurrentDictionary<Task, byte>();
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await DispatchAsync(running, () => Volatile.Write(ref _fault, null), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                failures++;
                var delay = _coordinator.Options.RetryDelay(failures);
                Volatile.Write(ref _fault, e.Message);
                Diagnostics.Log.SchedulerFailed(_coordinator.Logger, delay, e.Message, e);
                _coordinator.Events.Publish(new EngineFaulted(_coordinator.Clock.GetUtcNow(), "transfer scheduler", e.Message));
                _candidates.Clear(); // read ahead before the failure: read again
                try
                {
                    await Task.Delay(delay, _coordinator.Clock, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        // Transfers stopped by a shutdown keep their saved offsets and resume at the next start.
        await Task.WhenAll(running.Keys).ConfigureAwait(false);
    }

    private async Task DispatchAsync(ConcurrentDictionary<Task, byte> running, Action lapSucceeded, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            ScheduledJob? job;
            try
            {
                job = FindRunnableJob();
            }
            catch
            {
                _slots.Release();
                throw;
            }
            lapSucceeded();
            if (job is null)
            {
                _slots.Release();
                await WaitForSignalAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var flight = new InFlightJob(job, cancellationToken, _slots);
            _inFlight[(job.Job.Fid, job.Job.Target)] = flight;
            var task = RunJobAsync(flight, cancellationToken);
            running.TryAdd(task, 0);
            // RunJobAsync never faults (it reports its own failures), so removing it is all that is left to do.
            _ = task.ContinueWith(t => running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task RunJobAsync(InFlightJob flight, CancellationToken stopping)
    {
        try
        {
            await Task.Yield();
            await _executor.ExecuteAsync(flight).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The executor reports a job's failures itself; what escapes it (the store failing while it recorded
            // one) is logged and published here, never dropped. The job's row is untouched and is run again.
            Diagnostics.Log.JobCrashed(_coordinator.Logger, flight.Job.Kind.ToString(), flight.Job.Target, e.Message, e);
            _coordinator.Events.Publish(new EngineFaulted(_coordinator.Clock.GetUtcNow(), "transfer", e.Message));
        }
        finally
        {
            // Copies of this job read ahead while it ran describe a state it has since changed (done, postponed).
            var key = (flight.Job.Fid, flight.Job.Target);
            _changedSince[key] = Interlocked.Increment(ref _changeSequence);
            _inFlight.TryRemove(new KeyValuePair<(Guid, string), InFlightJob>(key, flight));
            flight.ReleaseSlot();
            flight.Dispose();
            Signal();
            if (_inFlight.IsEmpty)
                Interlocked.Exchange(ref _allLanded, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    private async Task WaitForSignalAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(IdlePoll);
        try
        {
            await _signal.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Returns the next due job not in flight on a ready service. Jobs are read in id order from a cursor, a batch
    /// at a time (the primary key walk costs the same whatever the table's size), and the cursor wraps around
    /// once it reaches the end, so rewritten and postponed jobs are found again on the next lap.
    /// </summary>
    private ScheduledJob? FindRunnableJob()
    {
        while (true)
        {
            while (_candidates.TryDequeue(out var candidate))
            {
                var key = (candidate.Job.Fid, candidate.Job.Target);
                if (!_inFlight.ContainsKey(key)
                    && !(_changedSince.TryGetValue(key, out var changedAt) && changedAt > candidate.ReadAt)
                    && _coordinator.Hosts.TryGetValue(candidate.Job.Target, out var host) && host.IsReady)
                {
                    _lapDispatched = true;
                    return candidate;
                }
            }
            // No candidate is queued, so no read-ahead copy is left to be stale: what was recorded can go, and what
            // changes from now on is newer than the batch about to be read.
            _changedSince.Clear();
            var batch = ReadBatch(_cursor);
            if (batch.Count > 0)
            {
                _cursor = batch[^1].Job.Id;
                foreach (var job in batch)
                    _candidates.Enqueue(job);
                continue;
            }
            if (_cursor == 0)
                return null;
            // End of the table: start the next lap, unless this one found nothing to run (then wait for a signal).
            _cursor = 0;
            if (!_lapDispatched)
                return null;
            _lapDispatched = false;
        }
    }

    /// <summary>
    /// Reads the next due jobs after <paramref name="afterId"/> with their files and replicas: three queries for a
    /// whole batch instead of a round trip per job. What is read may be overtaken by a change before the job runs;
    /// such jobs are skipped (<see cref="OnJobsChanged"/>) and every completion checks the job's version anyway.
    /// </summary>
    private List<ScheduledJob> ReadBatch(long afterId)
    {
        var batch = new List<ScheduledJob>(CandidateBatchSize);
        var ready = ReadyServices();
        if (ready.Count == 0)
            return batch;
        var readAt = Interlocked.Read(ref _changeSequence);
        using var connection = _coordinator.Store.OpenReader();
        using var transaction = connection.BeginTransaction(deferred: true); // one snapshot for the three queries

        var jobs = new List<JobRecord>(CandidateBatchSize);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = StoreTransaction.SelectJobs +
                " WHERE j.id > $after AND j.not_before <= $now AND j.attempts < $max AND j.target IN (SELECT value FROM json_each($ready))" +
                " ORDER BY j.id LIMIT $limit";
            command.Parameters.AddWithValue("$after", afterId);
            command.Parameters.AddWithValue("$now", _coordinator.Clock.GetUtcNow().UtcTicks);
            command.Parameters.AddWithValue("$max", MaxAttempts);
            command.Parameters.AddWithValue("$ready", JsonText.Array(ready));
            command.Parameters.AddWithValue("$limit", CandidateBatchSize);
            using var reader = command.ExecuteReader();
            while (reader.Read())
                jobs.Add(StoreTransaction.ReadJob(reader));
        }
        if (jobs.Count == 0)
            return batch;

        var fids = JsonText.Array(jobs.Select(j => StoreTransaction.Key(j.Fid)).Distinct());
        var files = ReadForFids(connection, transaction, StoreTransaction.SelectFiles, fids, StoreTransaction.ReadFile)
            .ToDictionary(f => f.Fid);
        var replicas = ReadForFids(connection, transaction, StoreTransaction.SelectReplicas, fids, StoreTransaction.ReadReplica)
            .GroupBy(r => r.Fid)
            .ToDictionary(g => g.Key, g => g.ToList());
        foreach (var job in jobs)
        {
            if (files.TryGetValue(job.Fid, out var file))
                batch.Add(new ScheduledJob(job, file, replicas.GetValueOrDefault(job.Fid) ?? [], readAt));
        }
        return batch;
    }

    private static List<T> ReadForFids<T>(SqliteConnection connection, SqliteTransaction transaction, string select, string fidsJson,
        Func<SqliteDataReader, T> map)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = select + " WHERE fid IN (SELECT value FROM json_each($fids))";
        command.Parameters.AddWithValue("$fids", fidsJson);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
            rows.Add(map(reader));
        return rows;
    }

    private List<string> ReadyServices()
    {
        var ready = new List<string>(_coordinator.Hosts.Count);
        foreach (var host in _coordinator.Hosts.Values)
        {
            if (host.IsReady)
            {
                ready.Add(host.Name);
                RaiseSlotsFor(host.Driver);
            }
        }
        return ready;
    }

    /// <summary>
    /// A latency-bound driver asks for more transfers in flight than the engine's setting: the limit rises to its
    /// number (within the setting's bound), never falls (a semaphore's permits cannot be taken back while held).
    /// </summary>
    private void RaiseSlotsFor(IDriver? driver)
    {
        if (driver is not ITransferConcurrency concurrency)
            return;
        var wanted = Math.Min(concurrency.ConcurrentTransfers, 1024); // the bound of MaxParallelTransfers
        int current;
        while (wanted > (current = Volatile.Read(ref _slotCount)))
        {
            if (Interlocked.CompareExchange(ref _slotCount, wanted, current) == current)
            {
                _slots.Release(wanted - current);
                return;
            }
        }
    }

    /// <summary>
    /// Whether some job may still make progress: one is in flight, or one has not yet failed
    /// <see cref="JobSignals.MaxAttempts"/> times on a service that is ready.
    /// </summary>
    public bool HasWorkLeft()
    {
        if (!_inFlight.IsEmpty)
            return true; // answered without a query: idle checks poll often while transfers run
        var ready = ReadyServices();
        return _coordinator.Store.QueryScalar<long>(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE attempts < $max AND target IN (SELECT value FROM json_each($ready)))", p =>
            {
                p.AddWithValue("$max", MaxAttempts);
                p.AddWithValue("$ready", JsonText.Array(ready));
            }) != 0 || !_inFlight.IsEmpty;
    }
}

/// <summary>A job read ahead from the store with its file and replicas, and when it was read.</summary>
internal sealed record ScheduledJob(JobRecord Job, FileRecord File, List<ReplicaRecord> Replicas, long ReadAt);

/// <summary>A job being worked on, with the token that stops it and why it was stopped.</summary>
internal sealed class InFlightJob : IDisposable
{
    private readonly CancellationTokenSource _cancellation;
    private SemaphoreSlim? _slot;

    public InFlightJob(ScheduledJob scheduled, CancellationToken stopping, SemaphoreSlim slot)
    {
        Job = scheduled.Job;
        File = scheduled.File;
        Replicas = scheduled.Replicas;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _slot = slot;
    }

    /// <summary>
    /// Gives the job's transfer slot to the next job (once): called when the transfer itself is done and only its
    /// record is left to commit. The job stays in flight (not picked again) until its record is committed, but the
    /// records of many transfers then queue up for the store's writer and commit together, instead of each transfer
    /// waiting for a commit of its own (measured: two to three SQLite transactions per small file before).
    /// </summary>
    public void ReleaseSlot() => Interlocked.Exchange(ref _slot, null)?.Release();

    public JobRecord Job { get; }

    /// <summary>The job's file as it was when the job was read.</summary>
    public FileRecord File { get; }

    /// <summary>The file's replicas as they were when the job was read.</summary>
    public List<ReplicaRecord> Replicas { get; }

    public CancellationToken Token => _cancellation.Token;

    /// <summary>Whether a newer change made this job stale (as opposed to the engine stopping).</summary>
    public bool Superseded { get; private set; }

    public void Supersede()
    {
        Superseded = true;
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _cancellation.Dispose();
}
