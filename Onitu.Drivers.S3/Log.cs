using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.S3;

/// <summary>The S3 driver's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Listing {Store} failed ({Reason}); trying again at the next poll")]
    public static partial void PollFailed(ILogger logger, string store, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Aborted {Count} abandoned multipart uploads under {Prefix}")]
    public static partial void StaleUploadsAborted(ILogger logger, int count, string prefix);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Store} refuses conditional writes ({Reason}); writes are checked just before they are made from now on (a window of one request remains)")]
    public static partial void ConditionalWritesUnsupported(ILogger logger, string store, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Skipping {Folder}:{Path}: {Reason}")]
    public static partial void Skipping(ILogger logger, string folder, string path, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Resuming the multipart upload of {Key} at part {Part} ({Bytes} bytes already stored)")]
    public static partial void UploadResumed(ILogger logger, string key, int part, long bytes);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Aborting the multipart upload {UploadId} of {Key} failed: {Reason}")]
    public static partial void AbortFailed(ILogger logger, string uploadId, string key, string reason);
}
