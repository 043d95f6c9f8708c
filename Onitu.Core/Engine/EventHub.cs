using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Onitu.Diagnostics;

namespace Onitu;

/// <summary>
/// Fans engine events out to subscribers. Each subscriber reads from its own bounded channel; a subscriber that
/// falls behind loses its oldest events rather than slowing the engine down. The last
/// <paramref name="recentCapacity"/> events are kept from the engine's creation on, for clients that come later
/// (<see cref="Recent"/>): whatever hosts the engine, and whenever it looks, nothing published before is missing.
/// </summary>
internal sealed class EventHub(ILogger logger, int recentCapacity)
{
    private const int SubscriberCapacity = 10_000;
    private readonly ConcurrentDictionary<Channel<SyncEvent>, byte> _subscribers = new();
    private readonly SyncEvent[] _recent = new SyncEvent[Math.Max(0, recentCapacity)];
    private int _recentNext;
    private int _recentCount;
    private readonly Lock _recentLock = new();
    private volatile bool _closed;

    public event EventHandler<SyncEvent>? Raised;

    /// <summary>The last events published, oldest first.</summary>
    public IReadOnlyList<SyncEvent> Recent()
    {
        lock (_recentLock)
        {
            var events = new SyncEvent[_recentCount];
            var first = (_recentNext - _recentCount + _recent.Length) % Math.Max(1, _recent.Length);
            for (var i = 0; i < _recentCount; i++)
                events[i] = _recent[(first + i) % _recent.Length];
            return events;
        }
    }

    public void Publish(SyncEvent syncEvent)
    {
        if (_recent.Length > 0)
        {
            lock (_recentLock)
            {
                _recent[_recentNext] = syncEvent;
                _recentNext = (_recentNext + 1) % _recent.Length;
                _recentCount = Math.Min(_recentCount + 1, _recent.Length);
            }
        }
        // Enumerated, not .Keys: Keys takes every lock of the dictionary and copies it, once per event (per file).
        foreach (var (subscriber, _) in _subscribers)
            subscriber.Writer.TryWrite(syncEvent);
        try
        {
            Raised?.Invoke(this, syncEvent);
        }
        catch (Exception e)
        {
            // An application's handler must not break the engine.
            Log.EventHandlerFailed(logger, e);
        }
    }

    public void Publish(IEnumerable<SyncEvent> events)
    {
        foreach (var syncEvent in events)
            Publish(syncEvent);
    }

    /// <summary>
    /// Ends the streams of the current readers once they have read what was published before (the engine stopped);
    /// readers that subscribe later wait for the next run's events.
    /// </summary>
    public void CompleteReaders()
    {
        foreach (var subscriber in _subscribers.Keys)
            subscriber.Writer.TryComplete();
    }

    /// <summary>Ends every stream, now and to come (the engine was disposed).</summary>
    public void Close()
    {
        _closed = true;
        CompleteReaders();
    }

    public async IAsyncEnumerable<SyncEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<SyncEvent>(new BoundedChannelOptions(SubscriberCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        _subscribers.TryAdd(channel, 0);
        if (_closed)
            channel.Writer.TryComplete(); // a reader arriving after the engine was disposed ends at once
        try
        {
            await foreach (var syncEvent in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return syncEvent;
        }
        finally
        {
            _subscribers.TryRemove(channel, out _);
        }
    }
}
