using Microsoft.Extensions.Options;

namespace Onitu.Hosting;

/// <summary>The engine's last events, kept for clients that connect later (the status page shows them at load).</summary>
internal sealed class RecentEvents : IDisposable
{
    private readonly SyncEngine _engine;
    private readonly int _capacity;
    private readonly Queue<SyncEvent> _events = new();
    private readonly Lock _lock = new();

    public RecentEvents(SyncEngine engine, IOptions<OnituApiOptions> options)
    {
        _engine = engine;
        _capacity = Math.Max(1, options.Value.RecentEvents);
        engine.EventRaised += OnEvent;
    }

    public IReadOnlyList<SyncEvent> Snapshot()
    {
        lock (_lock)
            return [.. _events];
    }

    private void OnEvent(object? sender, SyncEvent syncEvent)
    {
        lock (_lock)
        {
            _events.Enqueue(syncEvent);
            while (_events.Count > _capacity)
                _events.Dequeue();
        }
    }

    public void Dispose() => _engine.EventRaised -= OnEvent;
}
