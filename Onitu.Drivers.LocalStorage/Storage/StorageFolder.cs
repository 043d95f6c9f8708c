using System.Diagnostics.CodeAnalysis;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// One folder of the setup as it lies on disk: turns Onitu's relative paths into full paths and back, and never
/// lets a path leave the folder's directory.
/// </summary>
internal sealed class StorageFolder
{
    private readonly string _prefix;

    /// <param name="name">The folder's name in the setup.</param>
    /// <param name="directory">Its directory on disk.</param>
    /// <param name="service">The service's name, for the messages of a lost folder.</param>
    /// <param name="mapping">The folder's mapping in the setup, for those messages (as the engine words them); the directory when not given.</param>
    public StorageFolder(string name, string directory, string service = "", string? mapping = null)
    {
        Name = name;
        Directory = Path.TrimEndingDirectorySeparator(directory);
        _prefix = Path.EndsInDirectorySeparator(Directory) ? Directory : Directory + Path.DirectorySeparatorChar;
        Root = new FolderRoot(this, service, mapping ?? Directory);
    }

    /// <summary>What the driver knows of the folder's directory: which one the scan found, and whether it was lost since.</summary>
    public FolderRoot Root { get; }

    /// <summary>
    /// Makes the directory <paramref name="fullPath"/> and its missing parents below the folder's directory, never the
    /// folder's directory itself nor anything above it: a write into a folder whose directory is missing (an unmounted
    /// disk) must not make an empty mount point look like the folder.
    /// </summary>
    /// <exception cref="FolderMissingException">The folder's directory is missing, or is lost.</exception>
    /// <exception cref="LinkOnPathException">A component below the folder's directory is a link.</exception>
    /// <exception cref="IOException">A directory cannot be made.</exception>
    public void MakeDirectory(string fullPath)
    {
        if (!IsStrictlyInside(fullPath))
        {
            Root.Check(); // the folder's directory itself: it is there, or the folder is lost
            return;
        }
        if (AnchoredPaths.MakeDirectories(this, fullPath))
            return;
        // Without the anchored calls: a look, then the plain creation (the folder's directory could vanish between the two).
        Root.Check();
        System.IO.Directory.CreateDirectory(fullPath);
    }

    /// <summary>The folder's name in the setup.</summary>
    public string Name { get; }

    /// <summary>The folder's directory: a full path without a trailing separator.</summary>
    public string Directory { get; }

    /// <summary>The driver's staging directory for temporary files, at the folder's root (see <see cref="TempFiles"/>).</summary>
    public string StagingDirectory => _prefix + TempFiles.StagingDirectoryName;

    /// <summary>Whether <paramref name="fullPath"/> is the staging directory or lies in it.</summary>
    public bool IsStaging(string fullPath)
    {
        var staging = StagingDirectory;
        return fullPath.StartsWith(staging, Paths.Comparison)
            && (fullPath.Length == staging.Length || fullPath[staging.Length] == Path.DirectorySeparatorChar);
    }

    /// <summary>
    /// The part of <paramref name="fullPath"/> below the folder's directory, with <c>/</c> separators, as it is — for
    /// naming an entry that <see cref="TryGetRelativePath"/> refuses.
    /// </summary>
    public string RawRelativePath(string fullPath)
    {
        var relative = IsStrictlyInside(fullPath) ? fullPath[_prefix.Length..] : fullPath;
        return Path.DirectorySeparatorChar == '/' ? relative : relative.Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>Returns the full path of <paramref name="relativePath"/> inside the folder.</summary>
    /// <exception cref="DriverException">The path would lead outside the folder's directory.</exception>
    public string GetFullPath(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        // Metadata paths are normalized and cannot hold "..", but the check must not depend on the caller:
        // resolve whatever we are given and verify where it actually lands.
        var native = Path.DirectorySeparatorChar == '/' ? relativePath : relativePath.Replace('/', Path.DirectorySeparatorChar);
        var full = Path.GetFullPath(Path.Join(Directory, native));
        if (!IsStrictlyInside(full))
            throw new DriverException($"The path '{relativePath}' leads outside the directory of folder '{Name}' ({Directory}); refusing to touch '{full}'.");
        return full;
    }

    /// <summary>Returns the full path of a file's metadata, checked like <see cref="GetFullPath(string)"/>.</summary>
    public string GetFullPath(Metadata metadata) => GetFullPath(metadata.Path);

    /// <summary>
    /// Returns the first symbolic link (or other reparse point) on the way from the folder's directory to
    /// <paramref name="fullPath"/>, the entry itself included, or null when there is none. Every parent is looked at,
    /// as Syncthing does: a text check cannot see that <c>docs/escape</c> leads elsewhere. The folder's directory
    /// itself may be a link: the setup chose it.
    /// </summary>
    /// <exception cref="IOException">An entry on the way cannot be looked at.</exception>
    public string? FindLink(string fullPath)
    {
        if (!IsStrictlyInside(fullPath))
            return null;
        var separator = _prefix.Length - 1;
        while (separator < fullPath.Length)
        {
            var next = fullPath.IndexOf(Path.DirectorySeparatorChar, separator + 1);
            var entry = next < 0 ? fullPath : fullPath[..next];
            switch (NativeStat.LStat(entry).Kind)
            {
                case EntryKind.Link:
                    return entry;
                case EntryKind.Missing:
                    return null; // nothing below a missing entry exists yet; what the write creates is a directory
                case EntryKind.File or EntryKind.Other when next >= 0:
                    return null; // the write fails on its own ("not a directory")
            }
            if (next < 0)
                return null;
            separator = next;
        }
        return null;
    }

    /// <summary>Whether <paramref name="fullPath"/> lies inside the folder's directory (not the directory itself).</summary>
    public bool IsStrictlyInside(string fullPath) =>
        fullPath.Length > _prefix.Length && fullPath.StartsWith(_prefix, Paths.Comparison);

    /// <summary>
    /// Turns a full path inside the folder into Onitu's relative form. Fails for paths outside the folder, for the
    /// directory itself, and for names Onitu cannot carry (a backslash in a Unix file name, for instance).
    /// </summary>
    public bool TryGetRelativePath(string fullPath, [NotNullWhen(true)] out string? relativePath)
    {
        relativePath = null;
        if (!IsStrictlyInside(fullPath))
            return false;
        var relative = fullPath[_prefix.Length..];
        if (Path.DirectorySeparatorChar == '/')
        {
            // Onitu paths treat '\' as a separator, so a Unix name containing one would come back as another file.
            if (relative.Contains('\\', StringComparison.Ordinal))
                return false;
        }
        else
        {
            relative = relative.Replace(Path.DirectorySeparatorChar, '/');
        }
        try
        {
            relativePath = FilePath.Normalize(relative);
        }
        catch (ArgumentException)
        {
            return false;
        }
        // A name that normalization would alter ("a//b", trailing '/') is not the file on disk.
        return string.Equals(relativePath, relative, StringComparison.Ordinal);
    }

    /// <summary>
    /// Removes the directories above <paramref name="fullPath"/> that are now empty, up to (not including) the
    /// folder's directory, so a deletion or move leaves no empty shell behind as the original driver did.
    /// </summary>
    public void RemoveEmptyParents(string fullPath)
    {
        var directory = Path.GetDirectoryName(fullPath);
        while (directory is not null && IsStrictlyInside(directory))
        {
            // Directory.Delete unlinks a link to a directory: the user's link is not ours to remove.
            if (Paths.IsLink(directory))
                return;
            try
            {
                if (!AnchoredPaths.TryRemoveEmptyDirectory(this, directory))
                    return;
            }
            catch (IOException)
            {
                return; // not empty (or already gone): anything above is not empty either
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
            directory = Path.GetDirectoryName(directory);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Directory})";
}
