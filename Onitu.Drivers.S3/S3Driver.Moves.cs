using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Onitu.Drivers.S3;

/// <summary>Deletions, moves and server-side copies.</summary>
public sealed partial class S3Driver
{
    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        using var locked = await LockAsync(key, cancellationToken).ConfigureAwait(false);
        var current = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false);
        if (current is null) return;
        if (current.Revision != metadata.Revision)
            throw await ReportChangedAsync("delete", metadata, current, cancellationToken).ConfigureAwait(false);
        RecordOwn(key, null);
        await CallAsync($"delete {metadata}", () => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>A server-side copy (CopyObject, or UploadPartCopy past 5 GiB), then the source's deletion.</remarks>
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        var from = KeyOf(source);
        var to = KeyOf(destination);
        using var locked = await LockAsync(from, to, cancellationToken).ConfigureAwait(false);
        var moved = await HeadAsync(from, source, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"Cannot move {source}: it is not in {_options.Describe()} any more.");
        if (moved.Revision != source.Revision)
            throw await ReportChangedAsync("move", source, moved, cancellationToken).ConfigureAwait(false);
        if (from == to)
        {
            destination.Revision = moved.Revision;
            destination.Size = moved.Size;
            destination.ModifiedAt = moved.ModifiedAt;
            return;
        }
        if (await HeadAsync(to, destination, cancellationToken).ConfigureAwait(false) is { } existing && existing.Revision != destination.Revision)
            throw await ReportChangedAsync("move", destination, existing, cancellationToken).ConfigureAwait(false);
        await ServerCopyAsync(_options.Bucket, from, moved, destination, to, cancellationToken).ConfigureAwait(false);
        RecordOwn(from, null);
        await CallAsync($"delete {source} after moving it", () => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = from }, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Another S3 service of the same endpoint, region and access key: the store copies between its buckets.</remarks>
    public bool CanCopyFrom(IDriver source) =>
        source is S3Driver other && other._options.Endpoint == _options.Endpoint && other._options.Region == _options.Region
        && other._options.AccessKey == _options.AccessKey;

    /// <inheritdoc />
    public async ValueTask CopyFromAsync(IDriver source, Metadata sourceMetadata, Metadata destination, CancellationToken cancellationToken)
    {
        if (source is not S3Driver other || !CanCopyFrom(source))
            throw new DriverException($"The S3 driver cannot copy from {source?.GetType().Name ?? "null"} directly.");
        var from = other.KeyOf(sourceMetadata);
        var to = KeyOf(destination);
        var original = await other.HeadAsync(from, sourceMetadata, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"Cannot copy {sourceMetadata}: it is not in {other._options.Describe()} any more.");
        using var locked = await LockAsync(to, cancellationToken).ConfigureAwait(false);
        await CheckExpectedAsync("write", to, destination, cancellationToken).ConfigureAwait(false);
        await ServerCopyAsync(other._options.Bucket, from, original, destination, to, cancellationToken).ConfigureAwait(false);
    }

    // Copies an object within the store, only while it still has the revision looked at (CopySourceIfMatch).
    private async Task ServerCopyAsync(string sourceBucket, string from, Metadata original, Metadata destination, string to, CancellationToken cancellationToken)
    {
        var etag = ETagOf(original.Revision);
        string? written;
        try
        {
            written = original.Size > S3Options.MaxPartSize
                ? await CopyInPartsAsync(sourceBucket, from, etag, original.Size, destination, to, cancellationToken).ConfigureAwait(false)
                : Unquote((await _client.CopyObjectAsync(new CopyObjectRequest
                {
                    SourceBucket = sourceBucket,
                    SourceKey = from,
                    DestinationBucket = _options.Bucket,
                    DestinationKey = to,
                    ETagToMatch = etag,
                    StorageClass = _options.StorageClass is { } storageClass ? S3StorageClass.FindValue(storageClass) : null,
                }, cancellationToken).ConfigureAwait(false)).ETag);
        }
        catch (AmazonS3Exception e) when (S3Errors.IsPreconditionFailed(e))
        {
            throw new ServiceException($"{original} changed on the store while it was copied; the new version is copied next.", isTransient: true, e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"copy {original} to {destination}");
        }
        if (string.IsNullOrEmpty(written))
        {
            var head = await HeadAsync(to, destination, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{destination} is missing from {_options.Describe()} right after it was copied.");
            Written(destination, to, head.Revision!, head.Size, head.ModifiedAt);
        }
        else
        {
            Written(destination, to, Revision(written, original.Size), original.Size);
        }
    }

    // CopyObject stops at 5 GiB: larger objects are copied part by part (UploadPartCopy), at most 10,000 parts.
    private async Task<string?> CopyInPartsAsync(string sourceBucket, string from, string? etag, long size, Metadata destination, string to, CancellationToken cancellationToken)
    {
        var partSize = Math.Max(_options.PartSize, (size + 9_999) / 10_000);
        var state = await CreateUploadAsync(destination, to, cancellationToken).ConfigureAwait(false);
        try
        {
            for (long first = 0; first < size; first += partSize)
            {
                var number = state.Parts.Count + 1;
                var last = Math.Min(size, first + partSize) - 1;
                var part = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = sourceBucket,
                    SourceKey = from,
                    DestinationBucket = _options.Bucket,
                    DestinationKey = to,
                    UploadId = state.UploadId,
                    PartNumber = number,
                    FirstByte = first,
                    LastByte = last,
                    ETagToMatch = etag is null ? null : [etag],
                }, cancellationToken).ConfigureAwait(false);
                state.Parts.Add(new StoredPart(number, Unquote(part.ETag), last - first + 1));
            }
            var done = await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = to,
                UploadId = state.UploadId,
                PartETags = [.. state.Parts.Select(p => new PartETag(p.Number, p.ETag))],
            }, cancellationToken).ConfigureAwait(false);
            return Unquote(done.ETag);
        }
        catch
        {
            await TryAbortAsync(to, state.UploadId).ConfigureAwait(false);
            throw;
        }
    }
}
