using System.Net;
using Amazon.Runtime;
using Amazon.S3;

namespace Onitu.Drivers.S3;

/// <summary>
/// Turns the SDK's failures into Onitu's: a refused login or a missing bucket is permanent and says so (naming the
/// bucket and a masked access key, never the secret); throttling, 5xx and network failures are transient (the SDK has
/// already retried them with backoff).
/// </summary>
internal static class S3Errors
{
    public static bool IsNotFound(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode is not "NoSuchBucket" and not "NoSuchUpload";

    public static bool IsPreconditionFailed(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.PreconditionFailed || e.ErrorCode == "PreconditionFailed"
        // A conditional write racing another (AWS): the other won.
        || e.StatusCode == HttpStatusCode.Conflict && e.ErrorCode == "ConditionalRequestConflict";

    /// <summary>A store that does not implement a conditional header answers one of these.</summary>
    public static bool IsUnsupported(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.NotImplemented || e.ErrorCode == "NotImplemented"
        || (e.ErrorCode == "InvalidArgument" && e.Message.Contains("If-", StringComparison.OrdinalIgnoreCase));

    /// <summary>Returns the Onitu exception for a failure of <paramref name="what"/> on <paramref name="options"/>' store.</summary>
    public static Exception Map(Exception e, S3Options options, string what)
    {
        var store = options.Describe();
        switch (e)
        {
            case AmazonS3Exception s3 when s3.ErrorCode == "NoSuchBucket":
                return new DriverException($"Cannot {what}: {store} does not exist (the driver never creates buckets; create it, or fix the option 'bucket').", e);
            case AmazonS3Exception s3 when s3.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "InvalidToken" or "ExpiredToken" or "TokenRefreshRequired":
                return new DriverException($"Cannot {what}: {store} refused the credentials ({s3.ErrorCode}) of access key {MaskedKey(options)}: check 'access-key', 'secret-key' and 'session-token' (or the SDK's credential chain).", e);
            case AmazonS3Exception s3 when s3.StatusCode == HttpStatusCode.Forbidden:
                return new DriverException($"Cannot {what}: access denied to {store} with access key {MaskedKey(options)} ({s3.ErrorCode ?? "403"}): the key lacks permission on the bucket or its prefix.", e);
            case AmazonS3Exception s3 when IsNotFound(s3):
                return new RemoteFileNotFoundException($"Cannot {what}: not found in {store}.", e);
            case AmazonS3Exception s3 when s3.ErrorCode == "NoSuchUpload":
                return new UploadNotResumableException($"Cannot {what}: the multipart upload is gone from {store}.", e);
            case AmazonS3Exception s3 when (int)s3.StatusCode >= 500 || s3.StatusCode == HttpStatusCode.TooManyRequests || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "RequestTimeTooSkewed":
                return new ServiceException($"Cannot {what}: {store} answered {(int)s3.StatusCode} {s3.ErrorCode} ({s3.Message}) after retries.", isTransient: true, e);
            case AmazonS3Exception s3:
                return new ServiceException($"Cannot {what}: {store} answered {(int)s3.StatusCode} {s3.ErrorCode} ({s3.Message}).", isTransient: false, e);
            case AmazonClientException or HttpRequestException or IOException or TimeoutException:
                return new ServiceException($"Cannot {what}: {store} could not be reached ({e.Message}).", isTransient: true, e);
            case TaskCanceledException:
                return new ServiceException($"Cannot {what}: {store} did not answer within {options.Timeout.TotalSeconds:0} s.", isTransient: true, e);
            default:
                return e;
        }
    }

    /// <summary>Whether <see cref="Map"/> has something to say about <paramref name="e"/> (a cancellation is passed on).</summary>
    public static bool IsStoreFailure(Exception e, CancellationToken cancellationToken) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or TimeoutException
        || e is TaskCanceledException && !cancellationToken.IsCancellationRequested;

    // The access key id is not the secret, but the manifest treats it as one: enough of it to tell keys apart.
    private static string MaskedKey(S3Options options) =>
        options.AccessKey is { Length: > 0 } key ? (key.Length > 8 ? key[..4] + "…" + key[^2..] : key[..1] + "…") : "(from the SDK's credential chain)";
}
