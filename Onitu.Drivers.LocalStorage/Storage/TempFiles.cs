namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Names of the hidden files uploads are written to before the atomic rename. They sit in the target's own
/// directory (same file system, so the rename is atomic) and are named after the fid alone, so that an upload
/// interrupted by a crash finds its partial file again. Scans and the watcher never report them.
/// </summary>
internal static class TempFiles
{
    private const string Prefix = ".onitu-";
    private const string ChunkedSuffix = ".part";
    // Whole-file uploads use a name of their own: a streamed upload must never clobber the partial file a
    // chunked upload of the same file may resume later.
    private const string WholeSuffix = ".whole.part";
    private const int FidLength = 32; // Guid "N" format

    /// <summary>The temporary file of a chunked (resumable) upload to <paramref name="targetFullPath"/>.</summary>
    public static string ForChunkedUpload(string targetFullPath, Guid fid) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), $"{Prefix}{fid:N}{ChunkedSuffix}");

    /// <summary>The temporary file of a whole-file upload to <paramref name="targetFullPath"/>.</summary>
    public static string ForWholeUpload(string targetFullPath, Guid fid) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), $"{Prefix}{fid:N}{WholeSuffix}");

    /// <summary>Whether <paramref name="fileName"/> (a name, not a path) is one of the driver's temporary files.</summary>
    public static bool IsTempName(ReadOnlySpan<char> fileName)
    {
        if (!fileName.StartsWith(Prefix, StringComparison.Ordinal) || fileName.Length < Prefix.Length + FidLength)
            return false;
        var fid = fileName.Slice(Prefix.Length, FidLength);
        if (fid.ContainsAnyExcept("0123456789abcdef"))
            return false;
        var suffix = fileName[(Prefix.Length + FidLength)..];
        return suffix.SequenceEqual(ChunkedSuffix) || suffix.SequenceEqual(WholeSuffix);
    }

    /// <summary>Whether the last segment of <paramref name="path"/> is a temporary file name.</summary>
    public static bool IsTempPath(string path) => IsTempName(Path.GetFileName(path.AsSpan()));

    /// <summary>On Windows, where a leading dot hides nothing, marks the file hidden.</summary>
    public static void Hide(string tempPath)
    {
        if (OperatingSystem.IsWindows())
            File.SetAttributes(tempPath, File.GetAttributes(tempPath) | FileAttributes.Hidden);
    }
}
