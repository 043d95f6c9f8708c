using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage;

/// <summary>What a change notification said happened.</summary>
internal enum ChangeKind
{
    Created,
    Changed,
    Deleted,
    Renamed,
    /// <summary>Notifications were lost: the folder must be rescanned.</summary>
    Overflow,
    /// <summary>The folder was found lost (<see cref="RootSentinel"/>): the watch must fail.</summary>
    FolderLost,
}

/// <summary>One change notification, as the file system watcher raised it.</summary>
internal readonly record struct WatchEvent(StorageFolder Folder, ChangeKind Kind, string FullPath, string? OldFullPath = null);

/// <summary>
/// The file system watcher of one folder: forwards its notifications to a channel without blocking the watcher's
/// thread, and remembers to rescan the folder when notifications were lost (the watcher's buffer overflowed, or
/// the channel was full).
/// </summary>
internal sealed class FolderWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly ChannelWriter<WatchEvent> _events;
    private readonly ILogger _logger;
    private int _rescanRequested;

    /// <exception cref="ServiceException">The folder's directory cannot be watched (missing, or out of watches).</exception>
    public FolderWatcher(StorageFolder folder, ChannelWriter<WatchEvent> events, ILogger logger)
    {
        Folder = folder;
        _events = events;
        _logger = logger;
        try
        {
            _watcher = new FileSystemWatcher(folder.Directory)
            {
                IncludeSubdirectories = true,
                // The largest buffer Windows allows; a burst (an archive extracted) otherwise overflows at once.
                InternalBufferSize = 64 * 1024,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite
                    | NotifyFilters.Size | NotifyFilters.Attributes | NotifyFilters.CreationTime,
            };
        }
        catch (ArgumentException e)
        {
            throw new ServiceException($"The directory of folder '{folder.Name}' ({folder.Directory}) cannot be watched: {e.Message}", isTransient: true, e);
        }
        _watcher.Created += (_, e) => Post(new WatchEvent(Folder, ChangeKind.Created, e.FullPath));
        _watcher.Changed += (_, e) => Post(new WatchEvent(Folder, ChangeKind.Changed, e.FullPath));
        _watcher.Deleted += (_, e) => Post(new WatchEvent(Folder, ChangeKind.Deleted, e.FullPath));
        _watcher.Renamed += (_, e) => Post(new WatchEvent(Folder, ChangeKind.Renamed, e.FullPath, e.OldFullPath));
        _watcher.Error += (_, e) => LostEvents(e.GetException());
    }

    /// <summary>The folder watched.</summary>
    public StorageFolder Folder { get; }

    /// <summary>Starts raising notifications.</summary>
    /// <exception cref="ServiceException">The system refused (on Linux: the inotify watch or instance limit).</exception>
    public void Start()
    {
        try
        {
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            throw new ServiceException($"Cannot watch the directory of folder '{Folder.Name}' ({Folder.Directory}): {e.Message}", isTransient: true, e);
        }
        Log.Watching(_logger, Folder.Name, Folder.Directory);
    }

    /// <summary>Returns whether notifications were lost since the last call, and clears the flag.</summary>
    public bool TakeRescanRequest() => Interlocked.Exchange(ref _rescanRequested, 0) != 0;

    /// <inheritdoc />
    public void Dispose()
    {
        _watcher.EnableRaisingEvents = false;
        _watcher.Dispose();
    }

    private void Post(WatchEvent change)
    {
        if (!_events.TryWrite(change))
            Interlocked.Exchange(ref _rescanRequested, 1); // the channel is full: a rescan will see what we drop
    }

    private void LostEvents(Exception? exception)
    {
        Log.WatcherLostEvents(_logger, Folder.Name, exception);
        Interlocked.Exchange(ref _rescanRequested, 1);
        // Wakes the processing loop; if the channel is full it is awake anyway.
        _events.TryWrite(new WatchEvent(Folder, ChangeKind.Overflow, Folder.Directory));
    }
}
