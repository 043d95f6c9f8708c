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
    /// <exception cref="DriverException">A path cannot be resolved, a folder is mapped twice, or two folders overlap
    /// (see <see cref="Check"/>).</exception>
    public StorageLayout(string baseDirectory, string root, IReadOnlyList<FolderMapping> folders, string service = "")
    {
        ArgumentNullException.ThrowIfNull(folders);
        var problems = Resolve(baseDirectory, root, folders, service, out var fullRoot, out var resolved);
        LocalStorageOptions.ThrowIfAny(problems);
        Root = fullRoot!;
        Folders = resolved;
        _byName = resolved.ToDictionary(f => f.Name, StringComparer.Ordinal);
    }

    /// <summary>The full path of the <c>root</c> option.</summary>
    public string Root { get; }

    /// <summary>The folders, in setup order.</summary>
    public IReadOnlyList<StorageFolder> Folders { get; }

    /// <summary>
    /// Every problem of where the folders would lie, without touching the disk: a path the system cannot use, a folder
    /// mapped twice, and two folders whose directories are the same or one inside the other (a file inside both would
    /// be two files for Onitu, each write echoing as a change of the other: a loop), reported at the later mapping.
    /// </summary>
    public static IReadOnlyList<DriverOptionProblem> Check(string baseDirectory, string root, IReadOnlyList<FolderMapping> folders)
    {
        ArgumentNullException.ThrowIfNull(folders);
        return Resolve(baseDirectory, root, folders, service: "", out _, out _);
    }

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

    private static List<DriverOptionProblem> Resolve(string baseDirectory, string root, IReadOnlyList<FolderMapping> folders, string service,
        out string? fullRoot, out List<StorageFolder> resolved)
    {
        var problems = new List<DriverOptionProblem>();
        resolved = new List<StorageFolder>(folders.Count);
        fullRoot = null;
        try
        {
            fullRoot = Path.GetFullPath(root, Path.GetFullPath(string.IsNullOrEmpty(baseDirectory) ? "." : baseDirectory));
        }
        catch (ArgumentException e)
        {
            problems.Add(new DriverOptionProblem(LocalStorageOptions.RootKey, $"is not a usable path: {e.Message}"));
            return problems;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var mapping in folders)
        {
            if (!names.Add(mapping.Name))
            {
                problems.Add(new DriverOptionProblem(null, $"the folder '{mapping.Name}' is mapped twice") { Folder = mapping.Name });
                continue;
            }
            StorageFolder folder;
            try
            {
                folder = new StorageFolder(mapping.Name, Path.GetFullPath(mapping.Path, fullRoot), service, mapping.Path);
            }
            catch (ArgumentException e)
            {
                problems.Add(new DriverOptionProblem(null, $"the folder '{mapping.Name}' is mapped to a path that is not usable: {e.Message}") { Folder = mapping.Name });
                continue;
            }
            if (resolved.FirstOrDefault(other => Overlap(other, folder)) is { } earlier)
            {
                problems.Add(new DriverOptionProblem(null,
                    $"the folders '{earlier.Name}' ({earlier.Directory}) and '{folder.Name}' ({folder.Directory}) overlap on disk; each folder needs a directory of its own")
                { Folder = folder.Name });
            }
            resolved.Add(folder);
        }
        return problems;
    }

    private static bool Overlap(StorageFolder a, StorageFolder b) =>
        string.Equals(a.Directory, b.Directory, Paths.Comparison) || a.IsStrictlyInside(b.Directory) || b.IsStrictlyInside(a.Directory);
}
