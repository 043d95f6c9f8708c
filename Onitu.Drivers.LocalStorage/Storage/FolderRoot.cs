namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// What the driver knows of a folder's directory, its root: which directory the last scan found there (device and
/// inode), whether it held the engine's <see cref="FolderMarker"/>, and whether the folder was found lost since — the
/// directory gone, another one in its place (an unmounted disk's bare mount point), or the marker gone. A lost folder
/// gets no write, and no deletion is reported from it, until a scan finds it again (<see cref="Found"/>), which the
/// engine runs only once its marker is back: a start-up scan's rule, kept while running.
/// </summary>
/// <remarks>
/// Nothing here looks at the disk on a write's way: writes read <see cref="ThrowIfLost"/> (a field), and the walk that
/// opens a target's directory, which never makes the folder's directory, finds a missing one (<see cref="Missing"/>).
/// The looks (<see cref="Check"/>, two or three <c>statx</c> calls) are for the rare paths: a file found missing, the
/// staging directory opened again, a batch of the watcher, the watcher's sentinel (<see cref="RootSentinel"/>).
/// </remarks>
/// <param name="folder">The folder.</param>
/// <param name="service">The service's name, for the messages.</param>
/// <param name="location">Where the messages say the folder is: its mapping in the setup, as the engine's marker check says it.</param>
internal sealed class FolderRoot(StorageFolder folder, string service, string location)
{
    private readonly Lock _lock = new();
    private bool _found;
    // The device and inode the scan found; (0, 0) where the system does not say.
    private (ulong Device, ulong Inode) _identity;
    private bool _markerSeen;
    private string? _lost;

    /// <summary>The full path of the folder's marker.</summary>
    public string MarkerPath { get; } = Path.Join(folder.Directory, FolderMarker.FileName);

    /// <summary>Whether the folder was found lost since the last scan found it.</summary>
    public bool IsLost => Volatile.Read(ref _lost) is not null;

    /// <summary>Whether a scan of this driver found the directory (the marker's write may make it only before).</summary>
    public bool WasFound
    {
        get
        {
            lock (_lock)
                return _found;
        }
    }

    /// <summary>A scan found the directory: remembers which one it is and whether it holds the marker, and forgets a loss.</summary>
    /// <exception cref="IOException">It cannot be looked at.</exception>
    public void Found()
    {
        var root = NativeStat.Stat(folder.Directory);
        var marker = NativeStat.LStat(MarkerPath);
        lock (_lock)
        {
            _found = true;
            _identity = (root.Device, root.Inode);
            _markerSeen = marker.Kind == EntryKind.File;
            Volatile.Write(ref _lost, null);
        }
    }

    /// <summary>This driver wrote the marker: from now on its disappearance is the folder's loss.</summary>
    public void MarkerWritten()
    {
        lock (_lock)
            _markerSeen = true;
    }

    /// <summary>Refuses a write to a lost folder, without looking at the disk.</summary>
    /// <exception cref="FolderMissingException">The folder was found lost since the last scan.</exception>
    public void ThrowIfLost()
    {
        if (Volatile.Read(ref _lost) is { } reason)
            throw new FolderMissingException(reason);
    }

    /// <summary><see cref="ThrowIfLost"/>, then <see cref="Check"/>: what the watcher asks before it reports anything of the folder.</summary>
    /// <exception cref="FolderMissingException">The folder is lost.</exception>
    public void EnsureIntact()
    {
        ThrowIfLost();
        Check();
    }

    /// <summary>
    /// Looks at the folder now: fails (and remembers the loss) when its directory is missing, is not the one the scan
    /// found, or lost the marker it had.
    /// </summary>
    /// <exception cref="FolderMissingException">It is lost.</exception>
    /// <exception cref="IOException">It cannot be looked at.</exception>
    public void Check()
    {
        if (Look() is { } reason)
            throw Lose(reason);
    }

    /// <summary>As <see cref="Check"/>, for the sentinel: whether the folder is lost (newly or not) since a scan found it.</summary>
    public bool IsLostNow()
    {
        if (IsLost)
            return true;
        try
        {
            if (Look() is not { } reason)
                return false;
            Lose(reason);
            return IsLost;
        }
        catch (IOException)
        {
            return false; // cannot be looked at for now; a write or the next look decides
        }
    }

    /// <summary>The walk to a target found the directory missing: the folder is lost.</summary>
    public FolderMissingException Missing()
    {
        bool markerSeen;
        lock (_lock)
            markerSeen = _markerSeen;
        return Lose(markerSeen ? MarkerReason : MissingReason);
    }

    private string? Look()
    {
        var root = NativeStat.Stat(folder.Directory);
        (ulong Device, ulong Inode) identity;
        bool markerSeen;
        lock (_lock)
            (identity, markerSeen) = (_identity, _markerSeen);
        if (root.Kind != EntryKind.Directory)
            return markerSeen ? MarkerReason : MissingReason;
        var markerGone = markerSeen && NativeStat.LStat(MarkerPath).Kind != EntryKind.File;
        if (identity.Inode != 0 && root.Inode != 0 && (root.Device, root.Inode) != identity)
            return markerGone ? MarkerReason : ReplacedReason;
        return markerGone ? MarkerReason : null;
    }

    // Remembered only once a scan found the folder: before, there is nothing to lose (a driver used without a scan, the
    // engine's marker check and --force's marker before the first scan), and each look or walk decides alone.
    private FolderMissingException Lose(string reason)
    {
        lock (_lock)
        {
            if (_found)
                Interlocked.CompareExchange(ref _lost, reason, null);
        }
        return new FolderMissingException(reason);
    }

    private string MarkerReason => FolderMissingException.MarkerMissing(service, folder.Name, location).Message;

    private string MissingReason =>
        $"Service '{service}', folder '{folder.Name}': its directory {folder.Directory} is missing: is a disk unmounted? " +
        "Nothing is written to the folder, nor reported deleted from it, until a scan finds it again.";

    private string ReplacedReason =>
        $"Service '{service}', folder '{folder.Name}': its directory {folder.Directory} is not the one this service scanned " +
        "(a disk unmounted, or another directory put in its place). Nothing is written to the folder, nor reported deleted " +
        "from it, until a scan finds it again.";
}
