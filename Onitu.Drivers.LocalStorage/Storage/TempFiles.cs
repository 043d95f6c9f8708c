using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Names of the files uploads are written to before the atomic rename. They live in a staging directory of the
/// driver's own at each folder's root (<c>.onitu-staging/</c>, on the folder's file system, so the rename is atomic),
/// where no user file can be mistaken for one; only a target on another mount than its folder's root (a disk or a bind
/// mount inside the folder: the kernel refuses a rename between two mounts) is staged beside it under a hidden name, as every upload was before. A name carries the
/// fid and the writer: a chunked upload's the service's writer id (kept in its state, so an upload interrupted by a
/// crash finds its partial file again), a whole-file upload's also the driver instance's, so two engines writing one
/// folder (with two state databases) never write into the same temporary file and a dead instance's are known.
/// </summary>
internal static class TempFiles
{
    /// <summary>The staging directory's name, at the root of each folder.</summary>
    public const string StagingDirectoryName = ".onitu-staging";

    private const string Prefix = TempNames.Prefix;
    private const string ChunkedSuffix = ".part";
    // Whole-file uploads use a name of their own: a streamed upload must never clobber the partial file a
    // chunked upload of the same file may resume later.
    private const string WholeSuffix = ".whole.part";
    private const int FidLength = 32; // Guid "N" format
    private const int MaxWriterLength = 16;

    /// <summary>The staged file of a chunked (resumable) upload.</summary>
    public static string StagedChunked(string stagingDirectory, Guid fid, string writerId) =>
        Path.Join(stagingDirectory, StagedChunkedName(fid, writerId));

    /// <summary>The name of a chunked upload's staged file in the staging directory.</summary>
    public static string StagedChunkedName(Guid fid, string writerId) => $"{fid:N}.{writerId}{ChunkedSuffix}";

    /// <summary>The staged file of a whole-file upload.</summary>
    public static string StagedWhole(string stagingDirectory, Guid fid, string writerId, string instanceId) =>
        Path.Join(stagingDirectory, StagedWholeName(fid, writerId, instanceId));

    /// <summary>The name of a whole-file upload's staged file in the staging directory.</summary>
    public static string StagedWholeName(Guid fid, string writerId, string instanceId) => $"{fid:N}.{writerId}.{instanceId}{WholeSuffix}";

    /// <summary>The hidden file beside <paramref name="targetFullPath"/> of a chunked upload (a target on another file system).</summary>
    public static string ForChunkedUpload(string targetFullPath, Guid fid, string writerId) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), TempNames.Chunked(fid, writerId));

    /// <summary>The hidden file beside <paramref name="targetFullPath"/> of a whole-file upload (a target on another file system).</summary>
    public static string ForWholeUpload(string targetFullPath, Guid fid, string instanceId) =>
        Path.Join(Path.GetDirectoryName(targetFullPath), $"{Prefix}{fid:N}.{instanceId}{WholeSuffix}");

    /// <summary>
    /// Whether <paramref name="fileName"/> (a name, not a path) is a temporary file beside its target: this
    /// version's fallback (<c>.onitu-&lt;fid&gt;.&lt;writer&gt;.part</c>) or an earlier version's
    /// (<c>.onitu-&lt;fid&gt;.part</c>, <c>.onitu-&lt;fid&gt;.&lt;instance&gt;.whole.part</c>).
    /// </summary>
    public static bool IsTempName(ReadOnlySpan<char> fileName) =>
        fileName.StartsWith(Prefix, StringComparison.Ordinal) && Parse(fileName[Prefix.Length..]) is not null;

    /// <summary>Whether the last segment of <paramref name="path"/> is a temporary file name beside a target.</summary>
    public static bool IsTempPath(string path) => IsTempName(Path.GetFileName(path.AsSpan()));

    /// <summary>
    /// What a temporary file's name says: whether it is a whole-file upload's, and the ids it carries (the one id of a
    /// name beside its target is the writer's for a chunked upload, the instance's for a whole one). Null for a name
    /// that is not one: in the staging directory <paramref name="name"/> is the file name; beside a target, the name
    /// without its <c>.onitu-</c> prefix.
    /// </summary>
    public static TempName? Parse(ReadOnlySpan<char> name)
    {
        if (name.Length < FidLength || name[..FidLength].ContainsAnyExcept("0123456789abcdef"))
            return null;
        var rest = name[FidLength..];
        var whole = rest.EndsWith(WholeSuffix, StringComparison.Ordinal);
        if (!whole && !rest.EndsWith(ChunkedSuffix, StringComparison.Ordinal))
            return null;
        var ids = rest[..^(whole ? WholeSuffix.Length : ChunkedSuffix.Length)];
        if (ids.IsEmpty)
            return new TempName(whole, null, null); // the first versions' ".onitu-<fid>.part"
        if (ids[0] != '.')
            return null;
        ids = ids[1..];
        var dot = ids.IndexOf('.');
        var first = dot < 0 ? ids : ids[..dot];
        var second = dot < 0 ? [] : ids[(dot + 1)..];
        if (!IsId(first) || (dot >= 0 && !IsId(second)))
            return null;
        return new TempName(whole, first.ToString(), dot < 0 ? null : second.ToString());
    }

    private static bool IsId(ReadOnlySpan<char> id) => id.Length is >= 1 and <= MaxWriterLength && !id.ContainsAnyExcept("0123456789abcdef");

    /// <summary>On Windows, where a leading dot hides nothing, marks the file or directory hidden.</summary>
    public static void Hide(string tempPath)
    {
        if (OperatingSystem.IsWindows())
            File.SetAttributes(tempPath, File.GetAttributes(tempPath) | FileAttributes.Hidden);
    }
}

/// <summary>What a temporary file's name says (see <see cref="TempFiles.Parse"/>).</summary>
/// <param name="Whole">A whole-file upload's (never resumed), rather than a chunked upload's.</param>
/// <param name="FirstId">The first id in the name, if any.</param>
/// <param name="SecondId">The second id, if any (staged whole-file uploads: writer, then instance).</param>
internal sealed record TempName(bool Whole, string? FirstId, string? SecondId);
