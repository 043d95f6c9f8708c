using System.IO.Enumeration;

namespace Onitu.Drivers.LocalStorage;

/// <summary>Lists the regular files under a directory, recursively, the way a scan must see them.</summary>
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
    /// Yields each regular file under <paramref name="directory"/> with its state, skipping temporary files and
    /// symbolic links and never descending into a linked directory (which could loop or leave the folder).
    /// An absent directory yields nothing.
    /// </summary>
    public static IEnumerable<(string FullPath, FileState State)> EnumerateFiles(string directory)
    {
        var files = new FileSystemEnumerable<(string, FileState)>(
            directory,
            static (ref FileSystemEntry entry) => (entry.ToFullPath(), new FileState(entry.Length, entry.LastWriteTimeUtc.UtcDateTime)),
            Options)
        {
            ShouldIncludePredicate = static (ref FileSystemEntry entry) =>
                !entry.IsDirectory && (entry.Attributes & FileAttributes.ReparsePoint) == 0 && !TempFiles.IsTempName(entry.FileName),
            ShouldRecursePredicate = static (ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) == 0,
        };

        using var enumerator = files.GetEnumerator();
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
}
