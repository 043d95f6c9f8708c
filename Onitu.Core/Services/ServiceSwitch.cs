namespace Onitu.Services;

/// <summary>
/// Whether one service of a running engine is switched on, and the run of its host while it is. Stopping a service
/// cancels that run only; the engine's other services and transfers go on.
/// </summary>
internal sealed class ServiceSwitch
{
    private readonly Lock _lock = new();
    private bool _enabled = true;
    private CancellationTokenSource? _run;
    private TaskCompletionSource _runEnded = Completed();
    private TaskCompletionSource _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Enabled
    {
        get
        {
            lock (_lock)
                return _enabled;
        }
    }

    /// <summary>A token for the next run of the host, or null while the service is switched off.</summary>
    public CancellationToken? BeginRun(CancellationToken engineStopping)
    {
        lock (_lock)
        {
            if (!_enabled)
                return null;
            _run = CancellationTokenSource.CreateLinkedTokenSource(engineStopping);
            _runEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _run.Token;
        }
    }

    public void EndRun()
    {
        lock (_lock)
        {
            _run?.Dispose();
            _run = null;
            _runEnded.TrySetResult();
        }
    }

    /// <summary>Switches the service off; the returned task completes once its host stopped.</summary>
    public Task SwitchOff()
    {
        lock (_lock)
        {
            _enabled = false;
            _startRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _run?.Cancel();
            return _runEnded.Task;
        }
    }

    /// <summary>Switches the service on again; its host starts (and scans) at once.</summary>
    public void SwitchOn()
    {
        lock (_lock)
        {
            _enabled = true;
            _startRequested.TrySetResult();
        }
    }

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
            return _startRequested.Task.WaitAsync(cancellationToken);
    }

    private static TaskCompletionSource Completed()
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }
}
