using Microsoft.Extensions.Logging;

namespace Onitu.Diagnostics;

/// <summary>Every log message of the engine, in one place, with stable event ids (1xxx store, 2xxx services, 3xxx transfers).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "State database {Path} migrated from schema {From} to {To}")]
    public static partial void SchemaMigrated(ILogger logger, string path, int from, int to);

    [LoggerMessage(1002, LogLevel.Error, "A write to the state database failed")]
    public static partial void StoreWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(1003, LogLevel.Debug, "A batch of {Count} writes failed ({Reason}); committing them one by one")]
    public static partial void StoreBatchRetried(ILogger logger, int count, string reason);

    [LoggerMessage(1004, LogLevel.Debug, "State database closed after {Writes} writes in {Transactions} transactions")]
    public static partial void StoreClosed(ILogger logger, long writes, long transactions);

    [LoggerMessage(2001, LogLevel.Information, "Service {Service}: driver {Driver} resolved from {Origin}")]
    public static partial void DriverResolved(ILogger logger, string service, string driver, string origin);

    [LoggerMessage(2002, LogLevel.Information, "Service {Service}: scanning")]
    public static partial void ServiceScanning(ILogger logger, string service);

    [LoggerMessage(2003, LogLevel.Information, "Service {Service}: scan complete in {Elapsed}")]
    public static partial void ServiceScanned(ILogger logger, string service, TimeSpan elapsed);

    [LoggerMessage(2004, LogLevel.Error, "Service {Service} is failing, retrying in {Delay}: {Reason}")]
    public static partial void ServiceFailing(ILogger logger, string service, TimeSpan delay, string reason, Exception? exception);

    [LoggerMessage(2005, LogLevel.Information, "Service {Service} stopped")]
    public static partial void ServiceStopped(ILogger logger, string service);

    [LoggerMessage(2006, LogLevel.Warning, "Service {Service}: {Failures} transfers failed in a row; restarting it")]
    public static partial void ServiceRestartAfterFailures(ILogger logger, string service, int failures);

    [LoggerMessage(2007, LogLevel.Warning, "Service {Service}: skipping {Folder}:{Path}: {Reason}")]
    public static partial void PathSkipped(ILogger logger, string service, string folder, string path, string reason);

    [LoggerMessage(2008, LogLevel.Debug, "Could not hash {Folder}:{Path} on {Service} to compare contents: {Reason}")]
    public static partial void ContentHashFailed(ILogger logger, string service, string folder, string path, string reason);

    [LoggerMessage(2009, LogLevel.Debug, "{Folder}:{Path} on {Service} has the content of version {Version}: recorded, nothing to transfer")]
    public static partial void SameContentRecognised(ILogger logger, string service, string folder, string path, long version);

    [LoggerMessage(2010, LogLevel.Warning, "Service {Service}: could not create the marker of folder {Folder} ({Reason}); the folder is synced without it")]
    public static partial void FolderMarkerNotCreated(ILogger logger, string service, string folder, string reason);

    [LoggerMessage(2011, LogLevel.Information, "The setup changed since the last run: {Count} copies of known files are due to services that lack them")]
    public static partial void ReconciledOnStart(ILogger logger, long count);

    [LoggerMessage(3022, LogLevel.Information, "{Folder}:{Path} changed on {Source} while it was read (revision {Read}, now {Now}): not recorded, its new revision is sent instead")]
    public static partial void SourceChangedWhileRead(ILogger logger, string folder, string path, string source, string? read, string now);

    [LoggerMessage(3020, LogLevel.Error, "The transfer scheduler failed; restarting it in {Delay}: {Reason}")]
    public static partial void SchedulerFailed(ILogger logger, TimeSpan delay, string reason, Exception exception);

    [LoggerMessage(3021, LogLevel.Error, "A {Kind} job to {Target} failed outside its own handling (it runs again): {Reason}")]
    public static partial void JobCrashed(ILogger logger, string kind, string target, string reason, Exception exception);

    [LoggerMessage(3001, LogLevel.Debug, "{Kind} {Folder}:{Path} to {Target} (version {Version})")]
    public static partial void JobStarting(ILogger logger, string kind, string folder, string path, string target, long version);

    [LoggerMessage(3002, LogLevel.Information, "Synced {Folder}:{Path} from {Source} to {Target} ({Size} bytes)")]
    public static partial void FileSynced(ILogger logger, string folder, string path, string source, string target, long size);

    [LoggerMessage(3003, LogLevel.Information, "Resuming {Folder}:{Path} to {Target} at offset {Offset}")]
    public static partial void TransferResumed(ILogger logger, string folder, string path, string target, long offset);

    [LoggerMessage(3004, LogLevel.Warning, "{Kind} {Folder}:{Path} to {Target} failed (attempt {Attempt}, next in {Delay}): {Reason}")]
    public static partial void JobFailed(ILogger logger, string kind, string folder, string path, string target, int attempt, TimeSpan delay, string reason, Exception? exception);

    [LoggerMessage(3041, LogLevel.Debug, "Upload of {Folder}:{Path} to {Target} waits {Delay} for a file in its way to be deleted or moved there first: {Reason}")]
    public static partial void UploadWaitsForWayClearing(ILogger logger, string folder, string path, string target, TimeSpan delay, string reason);

    [LoggerMessage(3005, LogLevel.Information, "Transfer of {Folder}:{Path} to {Target} aborted: a newer version arrived")]
    public static partial void TransferSuperseded(ILogger logger, string folder, string path, string target);

    [LoggerMessage(3006, LogLevel.Warning, "Conflict on {Folder}:{Path}: the content from {Loser} is kept as {ConflictPath}")]
    public static partial void ConflictDetected(ILogger logger, string folder, string path, string loser, string conflictPath);

    [LoggerMessage(3023, LogLevel.Warning, "Conflict on {Folder}:{Path}: neither content can be kept beside the other ({Loser}'s can only stay on services that never receive {Winner}'s, and the reverse); each stays where it is, {Winner}'s is sent on")]
    public static partial void ConflictKeptInPlace(ILogger logger, string folder, string path, string winner, string loser);

    [LoggerMessage(3007, LogLevel.Information, "Deleted {Folder}:{Path} from {Target}")]
    public static partial void FileDeleted(ILogger logger, string folder, string path, string target);

    [LoggerMessage(3008, LogLevel.Information, "Moved {Folder}:{From} to {ToFolder}:{To} on {Target}")]
    public static partial void FileMoved(ILogger logger, string folder, string from, string toFolder, string to, string target);

    [LoggerMessage(3042, LogLevel.Warning, "Could not move {Folder}:{From} to {To} on {Target}: {From} is not there any more, taken as deleted there (the moved file is copied there from a service holding it, if any)")]
    public static partial void MoveSourceGone(ILogger logger, string folder, string from, string to, string target);

    [LoggerMessage(3009, LogLevel.Debug, "Source {Source} failed for {Folder}:{Path}, trying the next: {Reason}")]
    public static partial void SourceFailed(ILogger logger, string source, string folder, string path, string reason);

    [LoggerMessage(3010, LogLevel.Warning, "An event subscriber threw")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception);
}
