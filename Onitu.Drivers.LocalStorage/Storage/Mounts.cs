namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Whether anything is mounted below a directory, from the kernel's table of this process's mounts
/// (<c>/proc/self/mountinfo</c>): where nothing is, every directory below is on the directory's own mount, and a write
/// need not look at its target's directory to know that a rename from the staging directory stays atomic.
/// </summary>
internal static class Mounts
{
    private const string Table = "/proc/self/mountinfo";
    private const string Deleted = " (deleted)";

    /// <summary>
    /// Whether a mount point lies strictly below the parent of the directory open as <paramref name="fd"/> (the folder's
    /// directory, for its staging directory); true when the table cannot be read or the directory cannot be named (then
    /// every write looks).
    /// </summary>
    public static bool AnyBelowParentOf(int fd)
    {
        try
        {
            // The kernel's name of the directory (links resolved), as the table names mount points.
            var directory = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (directory is null || !directory.StartsWith('/') || directory.EndsWith(Deleted, StringComparison.Ordinal)
                || Path.GetDirectoryName(directory) is not { } parent)
                return true;
            var prefix = parent.EndsWith('/') ? parent : parent + "/";
            foreach (var line in File.ReadLines(Table))
            {
                if (MountPoint(line) is not { } mountPoint || mountPoint.StartsWith(prefix, StringComparison.Ordinal))
                    return true;
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>The mount point of a line of the table (its fifth field, octal escapes undone); null for a line it cannot read.</summary>
    internal static string? MountPoint(string line)
    {
        var field = line.AsSpan();
        for (var i = 0; i < 4; i++)
        {
            var space = field.IndexOf(' ');
            if (space < 0)
                return null;
            field = field[(space + 1)..];
        }
        var end = field.IndexOf(' ');
        return Unescape(end < 0 ? field : field[..end]);
    }

    // The kernel writes a space, tab, newline and backslash in a path as \040, \011, \012 and \134.
    private static string Unescape(ReadOnlySpan<char> field)
    {
        if (!field.Contains('\\'))
            return field.ToString();
        var text = new System.Text.StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                text.Append((char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
