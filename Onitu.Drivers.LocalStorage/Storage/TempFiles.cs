namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Names of the hidden files uploads are written to before the atomic rename. They sit in the target's own
/// directory (same file system, so the rename is atomic) and carry the fid and the writer: a chunked upload's name
/// uses the service's writer id (kept in its state, so an upload interrupted by a crash finds its partial file again),
/// a whole-file upload's name the driver instance's, so two engines writing one folder (with two state databases)
/// never write into the same temporary file. Scans and the watcher never report them.
/// </summary>
internal static class TempFiles
{
    private const string Prefix = ".onitu-";
    private const string ChunkedSuffix = ".part";
    // Whole-file uploads use a name of their own: a streamed upload must never clobber the partial file a
    // chunked upload of the same file may resume later.
    private const string WholeSuffix = ".whole.part";
    private const int FidLength = 32; // Guid "N" format
    private const int MaxWriterLength = 16;

    /// <summary>The temporary file of a chunked (resumable) upload to <paramref name="targetFullPath"/>.</summary>
    public static string ForChunkedUpload(string targetFullPath, Guid fid, string writerId) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), $"{Prefix}{fid:N}.{writerId}{ChunkedSuffix}");

    /// <summary>The temporary file of a whole-file upload to <paramref name="targetFullPath"/>.</summary>
    public static string ForWholeUpload(string targetFullPath, Guid fid, string instanceId) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), $"{Prefix}{fid:N}.{instanceId}{WholeSuffix}");

    /// <summary>A new random writer or instance id (lower-case hex).</summary>
    public static string NewWriterId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));

    /// <summary>
    /// Whether <paramref name="fileName"/> (a name, not a path) is one of the driver's temporary files, of this
    /// version (<c>.onitu-&lt;fid&gt;.&lt;writer&gt;.part</c>) or of an earlier one (<c>.onitu-&lt;fid&gt;.part</c>).
    /// </summary>
    public static bool IsTempName(ReadOnlySpan<char> fileName)
    {
        if (!fileName.StartsWith(Prefix, StringComparison.Ordinal) || fileName.Length < Prefix.Length + FidLength)
            return false;
        var fid = fileName.Slice(Prefix.Length, FidLength);
        if (fid.ContainsAnyExcept("0123456789abcdef"))
            return false;
        var suffix = fileName[(Prefix.Length + FidLength)..];
        if (suffix.SequenceEqual(ChunkedSuffix) || suffix.SequenceEqual(WholeSuffix))
            return true;
        if (suffix.Length < 2 || suffix[0] != '.')
            return false;
        var writerEnd = suffix[1..].IndexOf('.');
        if (writerEnd is < 1 or > MaxWriterLength || suffix.Slice(1, writerEnd).ContainsAnyExcept("0123456789abcdef"))
            return false;
        var rest = suffix[(1 + writerEnd)..];
        return rest.SequenceEqual(ChunkedSuffix) || rest.SequenceEqual(WholeSuffix);
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
