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

    /// <summary>Whether ssh's diagnostics describe a configuration problem that retrying will not fix.</summary>
    internal static bool IsPermanent(string standardError) =>
        standardError.Contains("Host key verification failed", StringComparison.Ordinal)
        || standardError.Contains("REMOTE HOST IDENTIFICATION HAS CHANGED", StringComparison.Ordinal)
        || standardError.Contains("Permission denied", StringComparison.Ordinal)
        || standardError.Contains("Bad configuration option", StringComparison.Ordinal)
        || standardError.Contains("subsystem request failed", StringComparison.Ordinal);
}
