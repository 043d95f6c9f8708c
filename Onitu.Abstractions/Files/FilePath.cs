namespace Onitu;

/// <summary>
/// Rules for the relative paths Onitu exchanges between services: <c>/</c> separators, no leading or trailing
/// separator, no empty, <c>.</c> or <c>..</c> segment. Every path in a <see cref="Metadata"/> is in this form,
/// so a driver can join it to its root without fearing an escape.
/// </summary>
public static class FilePath
{
    /// <summary>
    /// Turns a relative path as a store spells it (either separator, redundant slashes) into Onitu's form.
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty, rooted, or has a <c>..</c> or <c>.</c> segment.</exception>
    public static string Normalize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Most paths are in Onitu's form already (every path read back from the engine's state is): returned as they
        // are, without splitting and joining them again.
        if (IsNormal(path))
            return path;
        var segments = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
            throw new ArgumentException("A file path must name a file inside its folder.", nameof(path));
        foreach (var segment in segments)
        {
            if (segment is "." or "..")
                throw new ArgumentException($"The path '{path}' has a '{segment}' segment; Onitu paths stay inside their folder.", nameof(path));
            if (segment.Contains('\0', StringComparison.Ordinal))
                throw new ArgumentException("A file path cannot contain a NUL character.", nameof(path));
        }
        return string.Join('/', segments);
    }

    // Segments separated by single '/', none empty, "." or "..", no '\' and no NUL: what Normalize would return as is.
    private static bool IsNormal(string path)
    {
        var segmentStart = 0;
        for (var i = 0; i <= path.Length; i++)
        {
            if (i == path.Length || path[i] == '/')
            {
                var length = i - segmentStart;
                if (length == 0 || (path[segmentStart] == '.' && (length == 1 || (length == 2 && path[segmentStart + 1] == '.'))))
                    return false;
                segmentStart = i + 1;
            }
            else if (path[i] is '\\' or '\0')
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Returns whether <paramref name="path"/> is <paramref name="directory"/> itself or lies under it.</summary>
    public static bool IsUnder(string path, string directory) =>
        path.Length > directory.Length
            ? path.StartsWith(directory, StringComparison.Ordinal) && path[directory.Length] == '/'
            : string.Equals(path, directory, StringComparison.Ordinal);

    /// <summary>The file name: the last segment of the path.</summary>
    public static string GetFileName(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? path : path[(slash + 1)..];
    }

    /// <summary>The parent directory of the path, or an empty string at the folder's top level.</summary>
    public static string GetDirectory(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? string.Empty : path[..slash];
    }
}
