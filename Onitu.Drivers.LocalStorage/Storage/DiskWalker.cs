using System.IO.Enumeration;

namespace Onitu.Drivers.LocalStorage;

/// <summary>Lists the entries under a directory, recursively, the way a scan must see them.</summary>
internal static class DiskWalker
{
    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        // Hidden and system files are user files too; only our own temporary files are skipped.
        AttributesToSkip = 0,
        IgnoreInaccessible = true,
        ReturnSpecialDirectories = false,
    };

    /// <summary>
    /// Yields each entry under <paramref name="directory"/> of <paramref name="folder"/> that is not a directory —
    /// regular files, and the symbolic links and special files a scan names as skipped — with what <c>lstat</c> says
    /// of it, never descending into a linked directory (which could loop or leave the folder) nor into the staging
    /// directory. An absent directory yields nothing. The entries come in the order of their paths by code point (the
    /// order of the engine's listing, <see cref="IPlug.ListFilesAsync"/>), so that a scan can merge the two as it
    /// goes; each directory is listed and sorted on its own: memory grows with the largest directory, not the tree.
    /// </summary>
    public static IEnumerable<(string FullPath, EntryStat Stat)> EnumerateSorted(StorageFolder folder, string directory)
    {
        var root = folder.Directory;
        var pending = new Stack<IEnumerator<Listed>>();
        pending.Push(ListOneLevel(directory, root, isStart: true).GetEnumerator());
        try
        {
            while (pending.TryPeek(out var current))
            {
                if (!current.MoveNext())
                {
                    pending.Pop().Dispose();
                    continue;
                }
                var entry = current.Current;
                if (entry.Descend)
                    pending.Push(ListOneLevel(entry.FullPath, root, isStart: false).GetEnumerator());
                else
                    yield return (entry.FullPath, entry.Stat);
            }
        }
        finally
        {
            while (pending.TryPop(out var left))
                left.Dispose();
        }
    }

    /// <summary>An entry of one directory: a directory to walk into, or something to yield with its stat.</summary>
    private readonly record struct Listed(string Name, string FullPath, bool Descend, EntryStat Stat);

    private static List<Listed> ListOneLevel(string directory, string root, bool isStart)
    {
        var listed = new List<Listed>();
        var entries = new FileSystemEnumerable<Listed>(directory, (ref FileSystemEntry entry) =>
        {
            // A directory, not a link to one, and not the staging directory at the folder's root, is walked into.
            if (entry.IsDirectory && !IsLink(ref entry))
                return new Listed(entry.FileName.ToString(), entry.ToFullPath(), Descend: true, default);
            var (fullPath, stat) = Transform(ref entry);
            return new Listed(entry.FileName.ToString(), fullPath, Descend: false, stat);
        }, OneLevel)
        {
            ShouldIncludePredicate = (ref FileSystemEntry entry) => !(entry.IsDirectory && !IsLink(ref entry)
                && entry.FileName.SequenceEqual(TempFiles.StagingDirectoryName) && entry.Directory.Equals(root, Paths.Comparison)),
        };
        try
        {
            listed.AddRange(entries);
        }
        catch (DirectoryNotFoundException)
        {
            // The directory vanished while we listed it: the watcher reports the rest.
        }
        catch (UnauthorizedAccessException) when (!isStart)
        {
            // A subdirectory that cannot be read is passed over, as a recursive listing ignoring inaccessible ones does.
        }
        listed.Sort(static (a, b) => CompareNames(a.Name, a.Descend, b.Name, b.Descend));
        return listed;
    }

    // Everything under a directory "d" has paths starting "d/": sorting the directory as "d/" among its siblings puts
    // its whole subtree where its paths fall in the order of full paths.
    private static int CompareNames(string a, bool aIsDirectory, string b, bool bIsDirectory)
    {
        var common = Math.Min(a.Length, b.Length);
        var byPrefix = CompareByCodePoint(a.AsSpan(0, common), b.AsSpan(0, common));
        if (byPrefix != 0)
            return byPrefix;
        // One is a prefix of the other (or they are equal): what follows the shorter decides; for a directory it is
        // its '/', for a file the end of the name.
        int Next(string name, bool isDirectory, int at) => at < name.Length ? name[at] : isDirectory ? '/' : -1;
        var (x, y) = (Next(a, aIsDirectory, common), Next(b, bIsDirectory, common));
        return x == y ? 0 : x < 0 ? -1 : y < 0 ? 1 : CompareByCodePoint([(char)x], [(char)y]);
    }

    /// <summary>
    /// Compares two paths by code point, the order of their UTF-8 bytes and of SQLite's text comparison (UTF-16 code
    /// units differ from it only between surrogates and the characters U+E000 to U+FFFF).
    /// </summary>
    public static int CompareByCodePoint(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        var length = Math.Min(a.Length, b.Length);
        for (var i = 0; i < length; i++)
        {
            if (a[i] != b[i])
                return Fix(a[i]) - Fix(b[i]);
        }
        return a.Length - b.Length;

        static int Fix(char c) => c < 0xD800 ? c : c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }

    private static bool IsLink(ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) != 0;

    // One statx per entry where it answers (it gives the inode and nanoseconds), else what the listing gives.
    private static (string, EntryStat) Transform(ref FileSystemEntry entry)
    {
        var fullPath = entry.ToFullPath();
        if (NativeStat.HasInodes)
        {
            try
            {
                return (fullPath, NativeStat.LStat(fullPath)); // Missing when it vanished since the listing
            }
            catch (IOException)
            {
                // Cannot be looked at by path any more: what the listing says will do.
            }
        }
        var kind = IsLink(ref entry) ? EntryKind.Link : entry.IsDirectory ? EntryKind.Directory : EntryKind.File;
        return (fullPath, new EntryStat(kind, entry.Length, entry.LastWriteTimeUtc.UtcDateTime.Ticks, 0, 0, 0));
    }
}
