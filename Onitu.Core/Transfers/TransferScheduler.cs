using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

/// <summary>
/// Picks due jobs from the store and runs them, oldest first, in lanes: at most
/// <see cref="SyncEngineOptions.MaxParallelTransfers"/> at a time, and beside them, for each latency-bound service that
/// asks for more (<see cref="ITransferConcurrency"/>), as many jobs as it asked for among those it takes part in (as
/// the target, or as a holder an upload may read from). A job whose lane is full waits, kept in memory, while jobs of
/// other lanes go ahead. A job whose row a newer change rewrote while it ran is cancelled (its transfer aborted) and
/// picked again with its new content.
/// </summary>
internal sealed class TransferScheduler
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(500);

    private readonly SyncCoordinator _coordinator;
    private readonly TransferExecutor _executor;
    private readonly ConcurrentDictionary<(Guid Fid, string Target), InFlightJob> _inFlight = new();
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _slots;
    private const int CandidateBatchSize = 256;
    private readonly Queue<ScheduledJob> _candidates = new(); // read ahead from the store; only the dispatch loop uses it
    // Candidates whose lane was full when their turn came, by lane, oldest first; only the dispatch loop uses them.
    // Kept rather than read again: the engine's 4 lanes would otherwise make every lap re-read thousands of local
    // jobs while an ssh server's 32 are busy.
    private readonly Dictionary<string, Queue<ScheduledJob>> _waiting = new(StringComparer.Ordinal);
    private int _waitingCount;
    private const int MaxWaiting = 4 * CandidateBatchSize;
    // Jobs in flight in each lane: "" for the engine's own, else the asking service's name. A transfer's slot is
    // given back before its record commits, and so is its place in its lane.
    private readonly ConcurrentDictionary<string, int> _lanes = new(StringComparer.Ordinal);
    private const string EngineLane = "";
    // The services whose ask was added to the slots.
    private readonly HashSet<string> _raisedFor = new(StringComparer.Ordinal);
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
        _slots = new SemaphoreSlim(coordinator.Options.MaxParallelTransfers);
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

    /// <summary>
    /// Stops the jobs in flight that write to <paramref name="service"/> or read from it, as the engine's stop does
    /// (a chunked upload keeps its saved offset and partial upload, and resumes from there), and completes once they
    /// have ended. Call it once the service no longer takes new jobs (stopped): the jobs stay persisted and run again
    /// when it is ready.
    /// </summary>
    public Task StopJobsOfAsync(string service)
    {
        // Jobs read the source they chose after naming it (InFlightJob.ReadFrom), and a job is in flight before it
        // checks its target: one that is not found here sees the service stopped and leaves it alone.
        Interlocked.MemoryBarrier();
        var ending = new List<Task>();
        foreach (var flight in _inFlight.Values)
        {
            if (flight.Job.Target == service || flight.Source == service)
            {
                flight.Stop();
                ending.Add(flight.Ended);
            }
        }
        return Task.WhenAll(ending);
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
                // Read ahead before the failure: read again.
                _candidates.Clear();
                _waiting.Clear();
                _waitingCount = 0;
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

            var lane = LaneOf(job).Name;
            _lanes.AddOrUpdate(lane, 1, (_, n) => n + 1);
            var flight = new InFlightJob(job, cancellationToken, _slots, () =>
            {
                _lanes.AddOrUpdate(lane, 0, (_, n) => n - 1);
                Signal(); // a job waiting for this lane may go now, before this one's record commits
            });
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
            flight.End();
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
        if (_waitingCount > 0 && TakeWaiting() is { } waited)
            return waited;
        while (true)
        {
            while (_candidates.TryDequeue(out var candidate))
            {
                if (!IsRunnable(candidate))
                    continue;
                if (!HasLaneFor(candidate))
                {
                    Wait(candidate);
                    continue;
                }
                _lapDispatched = true;
                return candidate;
            }
            // Every target with jobs waiting is busy: reading further would only queue more behind them.
            if (_waitingCount >= MaxWaiting)
                return null;
            ForgetChangesNoCopyPredates();
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
    /// Forgets the changes that no read-ahead copy left is older than (a copy is stale only if its job changed after
    /// it was read). With none queued or waiting, everything goes, and what changes from now on is newer than the
    /// batch about to be read; else what predates the oldest waiting copy: a busy lane may keep jobs waiting for a
    /// whole sync, and the record must not grow with every job done meanwhile.
    /// </summary>
    private void ForgetChangesNoCopyPredates()
    {
        if (_waitingCount == 0)
        {
            _changedSince.Clear();
            return;
        }
        var oldest = long.MaxValue;
        foreach (var queue in _waiting.Values)
        {
            if (queue.TryPeek(out var head) && head.ReadAt < oldest)
                oldest = head.ReadAt; // each lane's queue is in the order its jobs were read
        }
        foreach (var (key, changedAt) in _changedSince)
        {
            if (changedAt <= oldest)
                _changedSince.TryRemove(new KeyValuePair<(Guid, string), long>(key, changedAt));
        }
    }

    /// <summary>Whether a read-ahead job is still as it was read, not running, and its target ready.</summary>
    private bool IsRunnable(ScheduledJob candidate)
    {
        var key = (candidate.Job.Fid, candidate.Job.Target);
        return !_inFlight.ContainsKey(key)
               && !(_changedSince.TryGetValue(key, out var changedAt) && changedAt > candidate.ReadAt)
               && _coordinator.Hosts.TryGetValue(candidate.Job.Target, out var host) && host.IsReady;
    }

    /// <summary>
    /// The lane of <paramref name="job"/> and its width: that of the service among its parties that asks for the most
    /// transfers in flight, if one asks for more than the engine's setting; else the engine's own. The parties are its
    /// target and, for an upload that can only be read from such services, its holders (a download from an ssh server
    /// is as latency-bound as an upload to it; with a local holder at hand, the upload is the engine's).
    /// </summary>
    private (string Name, int Width) LaneOf(ScheduledJob job)
    {
        var setting = _coordinator.Options.MaxParallelTransfers;
        (string Name, int Width) lane = (EngineLane, setting);
        if (AskedConcurrency(job.Job.Target) is var asked && asked > lane.Width)
            lane = (job.Job.Target, asked);
        if (job.Job.Kind != JobKind.Upload)
            return lane;
        (string Name, int Width) fromSource = (EngineLane, 0);
        foreach (var replica in job.Replicas)
        {
            if (!replica.Holds || replica.Service == job.Job.Target)
                continue;
            var askedBySource = AskedConcurrency(replica.Service);
            if (askedBySource <= setting)
                return lane;
            if (askedBySource > fromSource.Width)
                fromSource = (replica.Service, askedBySource);
        }
        return fromSource.Width > lane.Width ? fromSource : lane;
    }

    private bool HasLaneFor(ScheduledJob candidate) =>
        LaneOf(candidate) is var (name, width) && _lanes.GetValueOrDefault(name) < width;

    private int AskedConcurrency(string service) =>
        _coordinator.Hosts.TryGetValue(service, out var host) && host.Driver is ITransferConcurrency concurrency
            ? Math.Min(concurrency.ConcurrentTransfers, 1024) // the bound of MaxParallelTransfers
            : 0;

    private void Wait(ScheduledJob candidate)
    {
        var lane = LaneOf(candidate).Name;
        if (!_waiting.TryGetValue(lane, out var queue))
            _waiting[lane] = queue = new Queue<ScheduledJob>();
        queue.Enqueue(candidate);
        _waitingCount++;
    }

    /// <summary>The oldest waiting job of a lane that has room now; stale waiting jobs are dropped on the way.</summary>
    private ScheduledJob? TakeWaiting()
    {
        foreach (var queue in _waiting.Values)
        {
            while (queue.TryPeek(out var waiting))
            {
                if (IsRunnable(waiting))
                {
                    if (!HasLaneFor(waiting))
                        break;
                    queue.Dequeue();
                    _waitingCount--;
                    _lapDispatched = true;
                    return waiting;
                }
                queue.Dequeue();
                _waitingCount--;
            }
        }
        return null;
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
                RaiseSlotsFor(host);
            }
        }
        return ready;
    }

    /// <summary>
    /// A latency-bound service asks for more transfers in flight than the engine's setting: its lane's width is added
    /// to the slots, once (a semaphore's permits cannot be taken back while held; a restarted driver asking for
    /// another number keeps the first), so that its jobs run beside the engine's own rather than in their place.
    /// </summary>
    private void RaiseSlotsFor(ServiceHost host)
    {
        var asked = AskedConcurrency(host.Name);
        if (asked <= _coordinator.Options.MaxParallelTransfers)
            return;
        lock (_raisedFor)
        {
            if (!_raisedFor.Add(host.Name))
                return;
        }
        _slots.Release(asked);
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
    private readonly Action _leaveLane;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _source;

    public InFlightJob(ScheduledJob scheduled, CancellationToken stopping, SemaphoreSlim slot, Action leaveLane)
    {
        Job = scheduled.Job;
        File = scheduled.File;
        Replicas = scheduled.Replicas;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _slot = slot;
        _leaveLane = leaveLane;
    }

    /// <summary>
    /// Gives the job's transfer slot, and its place in its target's lane, to the next job (once): called when the transfer itself is done and only its
    /// record is left to commit. The job stays in flight (not picked again) until its record is committed, but the
    /// records of many transfers then queue up for the store's writer and commit together, instead of each transfer
    /// waiting for a commit of its own (measured: two to three SQLite transactions per small file before).
    /// </summary>
    public void ReleaseSlot()
    {
        if (Interlocked.Exchange(ref _slot, null) is not { } slot)
            return;
        _leaveLane();
        slot.Release();
    }

    public JobRecord Job { get; }

    /// <summary>The job's file as it was when the job was read.</summary>
    public FileRecord File { get; }

    /// <summary>The file's replicas as they were when the job was read.</summary>
    public List<ReplicaRecord> Replicas { get; }

    public CancellationToken Token => _cancellation.Token;

    /// <summary>The service the job reads from (an upload's current source), once chosen.</summary>
    public string? Source => Volatile.Read(ref _source);

    /// <summary>
    /// Names the source the upload is about to read from; the caller then checks that it may still be read: a stop
    /// of that service either sees the name (<see cref="TransferScheduler.StopJobsOfAsync"/>) or was seen.
    /// </summary>
    public void ReadFrom(string service) => Interlocked.Exchange(ref _source, service);

    /// <summary>Completes when the job has ended (its record committed or left for a later run).</summary>
    public Task Ended => _ended.Task;

    /// <summary>Whether a newer change made this job stale (as opposed to the engine stopping).</summary>
    public bool Superseded { get; private set; }

    public void Supersede()
    {
        Superseded = true;
        Cancel();
    }

    /// <summary>Stops the job as the engine's stop does: its saved progress is kept and it runs again later.</summary>
    public void Stop() => Cancel();

    public void End() => _ended.TrySetResult();

    private void Cancel()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The job already ended.
        }
    }

    public void Dispose() => _cancellation.Dispose();
}
