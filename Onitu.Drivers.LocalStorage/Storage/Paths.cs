namespace Onitu.Drivers.LocalStorage;

/// <summary>How full paths compare on this platform's usual file systems.</summary>
internal static class Paths
{
    /// <summary>Windows and macOS file systems are case-insensitive by default; Linux ones are not.</summary>
    public static StringComparison Comparison { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The comparer matching <see cref="Comparison"/>, for dictionaries keyed by full path.</summary>
    public static StringComparer Comparer { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>Whether the entry at <paramref name="fullPath"/> is a symbolic link (or another reparse point).</summary>
    public static bool IsLink(string fullPath)
    {
        try
        {
            return (File.GetAttributes(fullPath) & FileAttributes.ReparsePoint) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="fullPath"/> is a real directory (not a link to one).</summary>
    public static bool IsRealDirectory(string fullPath) => Directory.Exists(fullPath) && !IsLink(fullPath);
}
