using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Onitu.Engine;
using Onitu.Storage;

namespace Onitu.Transfers;

/// <summary>
/// Picks due jobs from the store and runs them, at most <see cref="SyncEngineOptions.MaxParallelTransfers"/> at a
/// time, oldest first. A job whose row a newer change rewrote while it ran is cancelled (its transfer aborted) and
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

    public TransferScheduler(SyncCoordinator coordinator, TransferExecutor executor)
    {
        _coordinator = coordinator;
        _executor = executor;
        _slots = new SemaphoreSlim(coordinator.Options.MaxParallelTransfers);
    }

    /// <summary>Jobs that failed this many times are left for a later pass (used by one-shot syncs).</summary>
    public int MaxAttempts { get; set; } = int.MaxValue;

    public int ActiveCount => _inFlight.Count;

    public void Signal() => _signal.Writer.TryWrite(true);

    /// <summary>Called after a change rewrote or removed jobs: their transfers in flight are stale.</summary>
    public void OnJobsChanged(IEnumerable<(Guid Fid, string Target)> jobs)
    {
        foreach (var key in jobs)
        {
            if (_inFlight.TryGetValue(key, out var flight))
                flight.Supersede();
        }
        Signal();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var running = new ConcurrentDictionary<Task, byte>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                JobRecord? job;
                try
                {
                    job = FindRunnableJob();
                }
                catch
                {
                    _slots.Release();
                    throw;
                }
                if (job is null)
                {
                    _slots.Release();
                    await WaitForSignalAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var flight = new InFlightJob(job, cancellationToken);
                _inFlight[(job.Fid, job.Target)] = flight;
                var task = RunJobAsync(flight);
                running.TryAdd(task, 0);
                _ = task.ContinueWith(t => running.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        // Transfers stopped by a shutdown keep their saved offsets and resume at the next start.
        await Task.WhenAll(running.Keys).ConfigureAwait(false);
    }

    private async Task RunJobAsync(InFlightJob flight)
    {
        try
        {
            await Task.Yield();
            await _executor.ExecuteAsync(flight).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<(Guid, string), InFlightJob>((flight.Job.Fid, flight.Job.Target), flight));
            flight.Dispose();
            _slots.Release();
            Signal();
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

    private JobRecord? FindRunnableJob()
    {
        var ready = ReadyServices();
        if (ready.Count == 0)
            return null;
        var now = _coordinator.Clock.GetUtcNow().UtcTicks;
        using var connection = _coordinator.Store.OpenReader();
        using var command = connection.CreateCommand();
        // Rows in flight come first in id order at worst; asking for one more than are in flight finds a free one.
        command.CommandText = StoreTransaction.SelectJobs +
            " WHERE not_before <= $now AND attempts < $max AND target IN (SELECT value FROM json_each($ready)) ORDER BY id LIMIT $limit";
        command.Parameters.AddWithValue("$now", now);
        command.Parameters.AddWithValue("$max", MaxAttempts);
        command.Parameters.AddWithValue("$ready", JsonSerializer.Serialize(ready));
        command.Parameters.AddWithValue("$limit", _inFlight.Count + 1);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var job = StoreTransaction.ReadJob(reader);
            if (!_inFlight.ContainsKey((job.Fid, job.Target)))
                return job;
        }
        return null;
    }

    private List<string> ReadyServices()
    {
        var ready = new List<string>(_coordinator.Hosts.Count);
        foreach (var host in _coordinator.Hosts.Values)
        {
            if (host.IsReady)
                ready.Add(host.Name);
        }
        return ready;
    }

    /// <summary>
    /// Counts the jobs that may still make progress: in flight, or not yet failed <see cref="MaxAttempts"/> times
    /// on a service that is ready.
    /// </summary>
    public long CountWorkLeft()
    {
        var ready = ReadyServices();
        var pending = _coordinator.Store.QueryScalar<long>(
            "SELECT count(*) FROM jobs WHERE attempts < $max AND target IN (SELECT value FROM json_each($ready))", p =>
            {
                p.AddWithValue("$max", MaxAttempts);
                p.AddWithValue("$ready", JsonSerializer.Serialize(ready));
            });
        return pending + _inFlight.Count;
    }
}

/// <summary>A job being worked on, with the token that stops it and why it was stopped.</summary>
internal sealed class InFlightJob : IDisposable
{
    private readonly CancellationTokenSource _cancellation;

    public InFlightJob(JobRecord job, CancellationToken stopping)
    {
        Job = job;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    public JobRecord Job { get; }
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
