using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.Ssh;

/// <summary>Every message the driver logs, with its event id (1xxx: scan and poll, 2xxx: handlers).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Warning, "Polling the SSH server failed ({Reason}); trying again at the next poll")]
    public static partial void PollFailed(ILogger logger, string reason);

    [LoggerMessage(1002, LogLevel.Debug, "Skipping {Folder}:{Path}: {Reason}")]
    public static partial void Skipping(ILogger logger, string folder, string path, string reason);

    [LoggerMessage(1003, LogLevel.Information, "Removed {Count} leftover temporary files under {Root}")]
    public static partial void LeftoversRemoved(ILogger logger, int count, string root);

    [LoggerMessage(2001, LogLevel.Warning, "The SSH server does not offer fsync@openssh.com; files are renamed into place unflushed")]
    public static partial void NoFsync(ILogger logger);

    [LoggerMessage(2002, LogLevel.Warning, "Refused to {Action} {File}: {Link} is a symbolic link on the server, and Onitu never writes, renames or deletes through a link")]
    public static partial void RefusedThroughLink(ILogger logger, string action, Metadata file, string link);
}
