using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Onitu.Services;
using Onitu.Sync;
using Onitu.Transfers;

namespace Onitu.Diagnostics;

/// <summary>
/// One engine's meter (<see cref="OnituTelemetry.MeterName"/>) and the per-service counters behind
/// <see cref="SyncEngine.GetServiceStatisticsAsync"/>. Bytes are counted per chunk as they reach the target, so a
/// resumed transfer counts what it wrote, not the whole file.
/// </summary>
internal sealed class EngineMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?> _setupTag;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _filesSynced;
    private readonly Counter<long> _conflicts;
    private readonly Counter<long> _failures;
    private readonly ConcurrentDictionary<string, ServiceCounters> _services = new(StringComparer.Ordinal);
    private readonly SyncCoordinator _coordinator;
    private long _totalBytes;

    public EngineMetrics(string setupName, SyncCoordinator coordinator, Func<int> activeJobs)
    {
        _coordinator = coordinator;
        _setupTag = new("onitu.setup", setupName);
        _meter = new Meter(OnituTelemetry.MeterName, OnituTelemetry.Version);
        _bytes = _meter.CreateCounter<long>("onitu.transfer.bytes", "By", "Bytes written to targets, counted per chunk as they move.");
        _filesSynced = _meter.CreateCounter<long>("onitu.files.synced", "{file}", "File versions written to a target.");
        _conflicts = _meter.CreateCounter<long>("onitu.conflicts", "{conflict}", "Concurrent edits resolved by keeping both contents.");
        _failures = _meter.CreateCounter<long>("onitu.transfer.failures", "{failure}", "Failed transfers, deletions and moves (retried later).");
        _meter.CreateObservableUpDownCounter("onitu.jobs.active", () => new Measurement<int>(activeJobs(), _setupTag),
            "{job}", "Jobs running now.");
        _meter.CreateObservableUpDownCounter("onitu.jobs.pending", ObservePending, "{job}", "Jobs persisted and not done yet.");
        _meter.CreateObservableUpDownCounter("onitu.service.state", ObserveStates, "{service}",
            "1 for the state each service is in (tags onitu.service, onitu.service.state), 0 for the others.");
        coordinator.Events.Raised += OnEvent;
        foreach (var name in coordinator.Hosts.Keys)
            _services.TryAdd(name, new ServiceCounters());
    }

    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    /// <summary>Counts <paramref name="bytes"/> just written to <paramref name="target"/>.</summary>
    public void AddBytes(string target, long bytes)
    {
        if (bytes <= 0)
            return;
        Interlocked.Add(ref _totalBytes, bytes);
        Counters(target).AddBytes(bytes, _coordinator.Clock.GetUtcNow());
        _bytes.Add(bytes, _setupTag, new("onitu.service", target));
    }

    public ServiceCounters Counters(string service) => _services.GetOrAdd(service, _ => new ServiceCounters());

    private void OnEvent(object? sender, SyncEvent syncEvent)
    {
        switch (syncEvent)
        {
            case FileSynced synced:
                Counters(synced.Service).TransferDone();
                _filesSynced.Add(1, _setupTag, new("onitu.service", synced.Service));
                break;
            case FileDeleted deleted:
                Counters(deleted.Service).TransferDone();
                break;
            case FileMoved moved:
                Counters(moved.Service).TransferDone();
                break;
            case TransferFailed failed:
                Counters(failed.Service).TransferFailed(failed.Error, failed.Time);
                _failures.Add(1, _setupTag, new("onitu.service", failed.Service));
                break;
            case ConflictDetected conflict:
                _conflicts.Add(1, _setupTag, new("onitu.folder", conflict.Folder));
                break;
            case ServiceStateChanged changed:
                Counters(changed.Service).StateChanged(changed.State, changed.Reason, changed.Time);
                break;
        }
    }

    private Measurement<long>[] ObservePending()
    {
        try
        {
            return [new Measurement<long>(_coordinator.Store.Queries.PendingJobs(), _setupTag)];
        }
        catch (ObjectDisposedException)
        {
            return [];
        }
    }

    private IEnumerable<Measurement<int>> ObserveStates()
    {
        foreach (var host in _coordinator.Hosts.Values)
        {
            var current = host.Status.State;
            foreach (var state in Enum.GetValues<ServiceState>())
            {
                yield return new Measurement<int>(state == current ? 1 : 0, _setupTag, new("onitu.service", host.Name),
                    new("onitu.service.state", state.ToString().ToLowerInvariant()));
            }
        }
    }

    public void Dispose()
    {
        _coordinator.Events.Raised -= OnEvent;
        _meter.Dispose();
    }
}

/// <summary>What one service did since the engine was created.</summary>
internal sealed class ServiceCounters
{
    private const int RateWindowSeconds = 10;
    private readonly Lock _lock = new();
    private readonly long[] _bytesPerSecond = new long[RateWindowSeconds];
    private readonly long[] _secondOfSlot = new long[RateWindowSeconds];
    private long _bytes;
    private long _done;
    private long _failed;

    public long BytesWritten => Interlocked.Read(ref _bytes);
    public long TransfersDone => Interlocked.Read(ref _done);
    public long TransfersFailed => Interlocked.Read(ref _failed);
    public string? LastError { get; private set; }
    public DateTimeOffset? LastErrorAt { get; private set; }

    /// <summary>When the service last started (its scan began), or null while it is stopped.</summary>
    public DateTimeOffset? RunningSince { get; private set; }

    public void AddBytes(long bytes, DateTimeOffset now)
    {
        Interlocked.Add(ref _bytes, bytes);
        var second = now.ToUnixTimeSeconds();
        lock (_lock)
        {
            var slot = (int)(second % RateWindowSeconds);
            if (_secondOfSlot[slot] != second)
            {
                _secondOfSlot[slot] = second;
                _bytesPerSecond[slot] = 0;
            }
            _bytesPerSecond[slot] += bytes;
        }
    }

    /// <summary>Bytes per second written to the service over the last ten seconds.</summary>
    public double Rate(DateTimeOffset now)
    {
        var second = now.ToUnixTimeSeconds();
        long sum = 0;
        lock (_lock)
        {
            for (var i = 0; i < RateWindowSeconds; i++)
            {
                if (second - _secondOfSlot[i] < RateWindowSeconds)
                    sum += _bytesPerSecond[i];
            }
        }
        return sum / (double)RateWindowSeconds;
    }

    public void TransferDone() => Interlocked.Increment(ref _done);

    public void TransferFailed(string error, DateTimeOffset at)
    {
        Interlocked.Increment(ref _failed);
        lock (_lock)
        {
            LastError = error;
            LastErrorAt = at;
        }
    }

    public void StateChanged(ServiceState state, string? reason, DateTimeOffset at)
    {
        lock (_lock)
        {
            if (state == ServiceState.Stopped)
                RunningSince = null;
            else if (RunningSince is null)
                RunningSince = at;
            if (state == ServiceState.Failing && reason is not null)
            {
                LastError = reason;
                LastErrorAt = at;
            }
        }
    }
}
