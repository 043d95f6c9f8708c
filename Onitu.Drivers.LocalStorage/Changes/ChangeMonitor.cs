using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The watchers of every folder, the sentinel of their directories (<see cref="RootSentinel"/>), and the queue of their
/// notifications. Started by the scan (so that nothing changed between the end of the scan and the start of watching
/// is missed) or by watching, stopped when watching ends.
/// </summary>
internal sealed class ChangeMonitor(IReadOnlyList<StorageFolder> folders, ILogger logger) : IDisposable
{
    // Bounded so a burst cannot exhaust memory while nobody consumes (before watching starts): past it, the
    // folder is marked for a rescan instead.
    private const int Capacity = 8_192;

    private readonly Channel<WatchEvent> _channel = Channel.CreateBounded<WatchEvent>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait, SingleWriter = false, SingleReader = false });
    private readonly Lock _lock = new();
    private List<FolderWatcher>? _watchers;
    private RootSentinel? _sentinel;
    private bool _disposed;

    /// <summary>The notifications, in the order they were raised; completes when the monitor is disposed.</summary>
    public ChannelReader<WatchEvent> Events => _channel.Reader;

    /// <summary>Starts the watchers if they are not running; returns whether it did.</summary>
    /// <exception cref="ServiceException">A folder's directory cannot be watched.</exception>
    public bool Start()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_watchers is not null)
                return false;
            var watchers = new List<FolderWatcher>(folders.Count);
            try
            {
                foreach (var folder in folders)
                {
                    var watcher = new FolderWatcher(folder, _channel.Writer, logger);
                    watchers.Add(watcher);
                    watcher.Start();
                }
            }
            catch
            {
                watchers.ForEach(w => w.Dispose());
                throw;
            }
            _watchers = watchers;
            // Every folder found lost wakes the loop (FolderLost), which then fails the watch: the event need not get
            // through a full channel, since the folder refuses writes already and is looked at with every batch.
            _sentinel = new RootSentinel(folders, folder => _channel.Writer.TryWrite(new WatchEvent(folder, ChangeKind.FolderLost, folder.Directory)), logger);
            return true;
        }
    }

    /// <summary>The folders whose watcher lost notifications since the last call.</summary>
    public List<StorageFolder> TakeRescanRequests()
    {
        lock (_lock)
            return _watchers?.Where(w => w.TakeRescanRequest()).Select(w => w.Folder).ToList() ?? [];
    }

    /// <summary>Stops the watchers and drops pending notifications: whoever starts them again must rescan.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _watchers?.ForEach(w => w.Dispose());
            _watchers = null;
            _sentinel?.Dispose();
            _sentinel = null;
            while (_channel.Reader.TryRead(out _))
            {
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            Stop();
            _disposed = true;
            _channel.Writer.TryComplete();
        }
    }
}
