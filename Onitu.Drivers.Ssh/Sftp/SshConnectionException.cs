namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>
/// The ssh process could not connect, or the connection was lost. <see cref="ServiceException.IsTransient"/> is
/// false when ssh's own diagnostics say retrying cannot help until the setup changes (an unknown or changed host
/// key, a refused key).
/// </summary>
public class SshConnectionException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    public SshConnectionException(string message, string standardError, bool isTransient, Exception? innerException = null)
        : base(message, isTransient, innerException) => StandardError = standardError;

    /// <summary>What ssh wrote on its standard error (the tail of it).</summary>
    public string StandardError { get; }

    /// <summary>
    /// Whether the connection was dropped because the server stopped answering (keep-alives unanswered, requests
    /// waiting with nothing received) rather than closed: a stalled link, which is worth reporting at once.
    /// </summary>
    public bool IsStall { get; init; }

    /// <summary>
    /// ssh's diagnostics without their boilerplate: the host-key-changed banner (a box of '@', warnings about
    /// eavesdropping) is reduced to the lines that say what happened and how to fix it.
    /// </summary>
    internal static string Reduce(string standardError)
    {
        var lines = standardError.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (!standardError.Contains("REMOTE HOST IDENTIFICATION HAS CHANGED", StringComparison.Ordinal))
            return string.Join(" ", lines);
        var kept = new List<string> { "REMOTE HOST IDENTIFICATION HAS CHANGED:" };
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.StartsWith('@')
                || line.StartsWith("IT IS POSSIBLE", StringComparison.Ordinal)
                || line.StartsWith("Someone could be", StringComparison.Ordinal)
                || line.StartsWith("It is also possible", StringComparison.Ordinal)
                || line.StartsWith("Please contact", StringComparison.Ordinal)
                || line.StartsWith("Add correct host key", StringComparison.Ordinal)
                || line.StartsWith("remove with", StringComparison.Ordinal))
                continue;
            // "The fingerprint for the ED25519 key sent by the remote host is" + the fingerprint on the next line.
            if (line.StartsWith("The fingerprint for", StringComparison.Ordinal) && i + 1 < lines.Length)
            {
                kept.Add($"{line} {lines[++i]};");
                continue;
            }
            kept.Add(line.StartsWith("ssh-keygen", StringComparison.Ordinal) ? $"(remove the old key with: {line})" : line);
        }
        return string.Join(" ", kept);
    }

    /// <summary>Whether ssh's diagnostics describe a configuration problem that retrying will not fix.</summary>
    internal static bool IsPermanent(string standardError) =>
        standardError.Contains("Host key verification failed", StringComparison.Ordinal)
        || standardError.Contains("REMOTE HOST IDENTIFICATION HAS CHANGED", StringComparison.Ordinal)
        || standardError.Contains("Permission denied", StringComparison.Ordinal)
        || standardError.Contains("Bad configuration option", StringComparison.Ordinal)
        || standardError.Contains("subsystem request failed", StringComparison.Ordinal);
}
