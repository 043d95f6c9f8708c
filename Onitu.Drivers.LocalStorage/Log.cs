using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage;

/// <summary>Every message the driver logs, with its event id (1xxx: scan and watch, 2xxx: handlers).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Created the missing directory of folder '{Folder}': {Directory}")]
    public static partial void FolderCreated(ILogger logger, string folder, string directory);

    [LoggerMessage(1002, LogLevel.Information, "Scanned folder '{Folder}' ({Directory}): {Updated} new or changed, {Deleted} deleted, in {ElapsedMs} ms")]
    public static partial void FolderScanned(ILogger logger, string folder, string directory, int updated, int deleted, long elapsedMs);

    [LoggerMessage(1003, LogLevel.Warning, "Skipped {FullPath}: its name cannot be carried as an Onitu path (a backslash on Unix, for instance)")]
    public static partial void UnrepresentableName(ILogger logger, string fullPath);

    [LoggerMessage(1004, LogLevel.Debug, "Watching folder '{Folder}' ({Directory})")]
    public static partial void Watching(ILogger logger, string folder, string directory);

    [LoggerMessage(1005, LogLevel.Warning, "The watcher of folder '{Folder}' lost change notifications; rescanning the folder")]
    public static partial void WatcherLostEvents(ILogger logger, string folder, Exception? exception);

    [LoggerMessage(1006, LogLevel.Information, "Watching resumed after a pause; rescanning every folder for what changed meanwhile")]
    public static partial void CatchingUp(ILogger logger);

    [LoggerMessage(1007, LogLevel.Warning, "Could not look at {FullPath} after a change notification; it is left to the next scan")]
    public static partial void ChangeNotExamined(ILogger logger, string fullPath, Exception exception);

    [LoggerMessage(1008, LogLevel.Warning, "Could not start watching at the scan; changes made meanwhile are caught up when watching starts")]
    public static partial void EarlyWatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(1012, LogLevel.Debug, "The folder sentinel cannot use the kernel's notifications of mounts and folder directories; it looks at the folders every {Period}")]
    public static partial void SentinelPolls(ILogger logger, TimeSpan period);

    [LoggerMessage(1013, LogLevel.Warning, "The folder sentinel stopped; a lost folder is still found by the writes and the watcher")]
    public static partial void SentinelFailed(ILogger logger, Exception exception);

    [LoggerMessage(2001, LogLevel.Information, "Refused to {Action} {File}: it changed on disk (revision {Actual}, the engine expected {Expected}); reported the new revision instead")]
    public static partial void ChangedOnDisk(ILogger logger, string action, Metadata file, string actual, string? expected);

    [LoggerMessage(2002, LogLevel.Debug, "Resuming the upload of {File} after {Offset} bytes")]
    public static partial void UploadResumed(ILogger logger, Metadata file, long offset);

    [LoggerMessage(2003, LogLevel.Warning, "Refused to {Action} {File}: {Link} is a symbolic link, and Onitu never writes, renames or deletes through a link")]
    public static partial void RefusedThroughLink(ILogger logger, string action, Metadata file, string link);

    [LoggerMessage(1009, LogLevel.Information, "Removed {Count} stale temporary files of folder '{Folder}' from {Directory}")]
    public static partial void LeftoversRemoved(ILogger logger, int count, string folder, string directory);

    [LoggerMessage(1010, LogLevel.Warning, "Could not remove the stale temporary file {FullPath}: {Reason}")]
    public static partial void LeftoverNotRemoved(ILogger logger, string fullPath, string reason);

    [LoggerMessage(1011, LogLevel.Information, "Removed the stale temporary file {FullPath}")]
    public static partial void LeftoverRemoved(ILogger logger, string fullPath);

    [LoggerMessage(2004, LogLevel.Warning, "The disk is full: removed the partial upload of {File} ({Bytes} bytes) to give the space back; it starts over when retried")]
    public static partial void PartialRemovedOnFullDisk(ILogger logger, Metadata file, long bytes);
}
