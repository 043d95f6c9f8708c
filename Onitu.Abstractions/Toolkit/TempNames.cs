namespace Onitu.Drivers.Toolkit;

/// <summary>
/// Names for the temporary files a driver writes before the atomic rename that makes an upload visible, when it keeps
/// them beside their targets: <c>.onitu-{fid}.{writer}.part</c> for a chunked upload (stable, so an upload interrupted
/// by a crash finds its partial file again) and <c>.onitu-{fid}.{writer}.{instance}-{random}.tmp</c> for a whole-file
/// upload (unique to the call). The writer id is the service's own, kept in the driver state
/// (<see cref="IPlug.State"/>), so two Onitu instances writing one store never share a file; the instance id is the
/// driver object's, so a whole-file upload left by a process that died is known as a leftover.
/// </summary>
/// <remarks>
/// Only names that <see cref="IsTemporary"/> accepts are the driver's: a scan hides those and names any other file,
/// <c>.onitu-notes.txt</c> included, as a user's file.
/// </remarks>
public static class TempNames
{
    /// <summary>What every temporary name starts with (a dot: hidden on Unix).</summary>
    public const string Prefix = ".onitu-";

    private const int FidLength = 32; // Guid "N" format

    /// <summary>A new random id for a writer or a driver instance: 8 lower-case hexadecimal digits.</summary>
    /// <remarks>
    /// Taken from a new <see cref="Guid"/> (random, from the system's secure source) rather than from
    /// <c>RandomNumberGenerator</c>, which on Linux loads OpenSSL: about 4 MB and a few milliseconds of every start.
    /// </remarks>
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(bytes);
        return Convert.ToHexStringLower(bytes[..4]);
    }

    /// <summary>The file name of a chunked upload's partial file: the same for every call with the same file and writer.</summary>
    /// <param name="fid">The file's <see cref="Metadata.Fid"/>.</param>
    /// <param name="writerId">The service's writer id.</param>
    public static string Chunked(Guid fid, string writerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(writerId);
        return $"{Prefix}{fid:N}.{writerId}.part";
    }

    /// <summary>The file name of a whole-file upload's temporary file: a new one at every call.</summary>
    /// <param name="fid">The file's <see cref="Metadata.Fid"/>.</param>
    /// <param name="writerId">The service's writer id.</param>
    /// <param name="instanceId">The driver instance's id.</param>
    public static string Whole(Guid fid, string writerId, string instanceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(writerId);
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        return $"{Prefix}{fid:N}.{writerId}.{instanceId}-{NewId()}.tmp";
    }

    /// <summary>
    /// Whether <paramref name="fileName"/> (a name, not a path) is a driver's temporary file: <see cref="Prefix"/>,
    /// a fid in lower-case hexadecimal, then a dot.
    /// </summary>
    public static bool IsTemporary(ReadOnlySpan<char> fileName) =>
        fileName.Length > Prefix.Length + FidLength + 1 && fileName.StartsWith(Prefix, StringComparison.Ordinal)
        && fileName[Prefix.Length + FidLength] == '.'
        && !fileName.Slice(Prefix.Length, FidLength).ContainsAnyExcept("0123456789abcdef");

    /// <summary>Whether a whole-file upload's temporary name was written by <paramref name="writerId"/> but another instance than <paramref name="instanceId"/>: a leftover of an earlier run (a whole-file upload never resumes).</summary>
    public static bool IsStaleWhole(ReadOnlySpan<char> fileName, string writerId, string instanceId) =>
        IsTemporary(fileName) && fileName.EndsWith(".tmp", StringComparison.Ordinal)
        && fileName.Contains($".{writerId}.", StringComparison.Ordinal) && !fileName.Contains(instanceId, StringComparison.Ordinal);
}
