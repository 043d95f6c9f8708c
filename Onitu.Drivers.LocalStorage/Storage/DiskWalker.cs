using System.IO.Enumeration;

namespace Onitu.Drivers.LocalStorage;

/// <summary>Lists the entries under a directory, recursively, the way a scan must see them.</summary>
internal static class DiskWalker
{
    private static readonly EnumerationOptions Options = new()
    {
        RecurseSubdirectories = true,
        // Hidden and system files are user files too; only our own temporary files are skipped.
        AttributesToSkip = 0,
        IgnoreInaccessible = true,
        ReturnSpecialDirectories = false,
    };

    /// <summary>
    /// Yields each entry under <paramref name="directory"/> of <paramref name="folder"/> that is not a directory —
    /// regular files, and the symbolic links and special files a scan names as skipped — with what <c>lstat</c> says
    /// of it, never descending into a linked directory (which could loop or leave the folder) nor into the staging
    /// directory. An absent directory yields nothing.
    /// </summary>
    public static IEnumerable<(string FullPath, EntryStat Stat)> EnumerateEntries(StorageFolder folder, string directory)
    {
        var root = folder.Directory;
        var entries = new FileSystemEnumerable<(string, EntryStat)>(directory, Transform, Options)
        {
            // IsDirectory and the name come from the directory listing itself; no stat per file is spent here.
            ShouldIncludePredicate = static (ref FileSystemEntry entry) => !entry.IsDirectory || IsLink(ref entry),
            // Not into links, nor into the driver's staging directory at the folder's root (one of that name deeper
            // down is a user's).
            ShouldRecursePredicate = (ref FileSystemEntry entry) => !IsLink(ref entry)
                && !(entry.FileName.SequenceEqual(TempFiles.StagingDirectoryName) && entry.Directory.Equals(root, Paths.Comparison)),
        };

        using var enumerator = entries.GetEnumerator();
        while (true)
        {
            try
            {
                if (!enumerator.MoveNext())
                    yield break;
            }
            catch (DirectoryNotFoundException)
            {
                yield break; // the directory vanished while we listed it: the watcher reports the rest
            }
            yield return enumerator.Current;
        }
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
