namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Notifications coalesced over a debounce window: each path once (however many events it had), the renames in
/// order, and the folders that need a rescan. Temporary files are filtered out here.
/// </summary>
internal sealed class ChangeBatch
{
    /// <summary>Paths to look at, in the order they were first seen; the flag says whether one was created.</summary>
    public OrderedDictionary<(StorageFolder Folder, string Path), bool> Paths { get; } = [];

    /// <summary>Renames within a folder, both names being user files, in order.</summary>
    public List<(StorageFolder Folder, string OldPath, string NewPath)> Renames { get; } = [];

    /// <summary>
    /// Entries that are not user files to sync but must not pass in silence: names like the driver's temporary files
    /// beside a target, and names Onitu cannot carry (by full path).
    /// </summary>
    public HashSet<(StorageFolder Folder, string FullPath)> Unsynced { get; } = [];

    /// <summary>Folders whose notifications were lost.</summary>
    public HashSet<StorageFolder> Rescans { get; } = [];

    /// <summary>Every folder a notification was about: each is looked at (<see cref="FolderRoot.EnsureIntact"/>) before anything is reported.</summary>
    public HashSet<StorageFolder> Folders { get; } = [];

    /// <summary>The revision last reported per full path in this batch, so one change is reported once.</summary>
    public Dictionary<string, string> Reported { get; } = new(LocalStorage.Paths.Comparer);

    /// <summary>How many notifications were taken in.</summary>
    public int Count { get; private set; }

    /// <summary>Takes one notification in.</summary>
    public void Add(WatchEvent change)
    {
        Count++;
        var folder = change.Folder;
        Folders.Add(folder);
        var path = UserPath(folder, change.FullPath);
        switch (change.Kind)
        {
            case ChangeKind.Overflow:
                Rescans.Add(folder);
                break;
            case ChangeKind.FolderLost:
                break; // the folder is looked at, as every folder of the batch, and found lost

            case ChangeKind.Renamed:
                var oldPath = change.OldFullPath is null ? null : UserPath(folder, change.OldFullPath);
                if (oldPath is not null && path is not null)
                    Renames.Add((folder, oldPath, path));
                else if (path is not null)
                    MarkPath(folder, path, created: true); // moved in from outside, or a temporary file made visible
                else if (oldPath is not null)
                    MarkPath(folder, oldPath); // moved out of the folder
                break;
            default:
                if (path is not null)
                    MarkPath(folder, path, created: change.Kind == ChangeKind.Created);
                break;
        }
    }

    /// <summary>Adds a path to look at.</summary>
    public void MarkPath(StorageFolder folder, string path, bool created = false)
    {
        var key = (folder, path);
        Paths[key] = created || (Paths.TryGetValue(key, out var wasCreated) && wasCreated);
    }

    private string? UserPath(StorageFolder folder, string fullPath)
    {
        if (folder.IsStaging(fullPath) || !folder.IsStrictlyInside(fullPath))
            return null;
        if (!TempFiles.IsTempPath(fullPath) && folder.TryGetRelativePath(fullPath, out var path))
            return path;
        Unsynced.Add((folder, fullPath));
        return null;
    }
}
