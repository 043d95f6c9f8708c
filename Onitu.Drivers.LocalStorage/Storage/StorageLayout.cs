namespace Onitu.Drivers.LocalStorage;

/// <summary>Where each folder of the service lies on disk.</summary>
internal sealed class StorageLayout
{
    private readonly Dictionary<string, StorageFolder> _byName;

    /// <summary>Resolves every folder mapping: <c>root</c> against the base directory, each mapping against <c>root</c>.</summary>
    /// <param name="baseDirectory">What a relative <paramref name="root"/> is relative to.</param>
    /// <param name="root">The <c>root</c> option.</param>
    /// <param name="folders">The folder mappings.</param>
    /// <param name="service">The service's name, for the messages of a lost folder.</param>
    /// <exception cref="DriverException">Two folders share a directory, or one lies inside another.</exception>
    public StorageLayout(string baseDirectory, string root, IReadOnlyList<FolderMapping> folders, string service = "")
    {
        ArgumentNullException.ThrowIfNull(folders);
        var fullBase = Path.GetFullPath(string.IsNullOrEmpty(baseDirectory) ? "." : baseDirectory);
        Root = Path.GetFullPath(root, fullBase);
        Folders = folders.Select(f => new StorageFolder(f.Name, Path.GetFullPath(f.Path, Root), service, f.Path)).ToArray();
        _byName = new Dictionary<string, StorageFolder>(StringComparer.Ordinal);
        foreach (var folder in Folders)
        {
            if (!_byName.TryAdd(folder.Name, folder))
                throw new DriverException($"The folder '{folder.Name}' is mapped twice.");
        }
        RefuseOverlaps();
    }

    /// <summary>The full path of the <c>root</c> option.</summary>
    public string Root { get; }

    /// <summary>The folders, in setup order.</summary>
    public IReadOnlyList<StorageFolder> Folders { get; }

    /// <summary>Returns the folder named <paramref name="name"/>.</summary>
    /// <exception cref="DriverException">No such folder is mapped on this service.</exception>
    public StorageFolder GetFolder(string name) =>
        _byName.TryGetValue(name, out var folder)
            ? folder
            : throw new DriverException($"The folder '{name}' is not mapped on this service.");

    /// <summary>Returns the checked full path of a file.</summary>
    public string GetFullPath(Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return GetFolder(metadata.Folder).GetFullPath(metadata.Path);
    }

    // A file inside two folder directories would be two files for Onitu, each write echoing as a change of the
    // other: a loop. Refuse the setup instead.
    private void RefuseOverlaps()
    {
        for (var i = 0; i < Folders.Count; i++)
        {
            for (var j = 0; j < Folders.Count; j++)
            {
                var (a, b) = (Folders[i], Folders[j]);
                if (i != j && (string.Equals(a.Directory, b.Directory, Paths.Comparison) || b.IsStrictlyInside(a.Directory)))
                    throw new DriverException($"The folders '{a.Name}' ({a.Directory}) and '{b.Name}' ({b.Directory}) overlap on disk; each folder needs a directory of its own.");
            }
        }
    }
}
