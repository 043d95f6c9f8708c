using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Onitu.Drivers.S3;

/// <summary>Writing: single PUTs and multipart uploads, resumable through the state store.</summary>
public sealed partial class S3Driver
{
    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var key = KeyOf(metadata);
        var partSize = (int)Math.Min(_options.PartSize, Array.MaxLength);
        var buffer = ArrayPool<byte>.Shared.Rent(partSize);
        try
        {
            var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < partSize)
            {
                using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                    await PutAsync(metadata, key, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                return;
            }
            // Larger than a part: a multipart upload within this call (not resumable: the stream cannot be rewound).
            var state = await CreateUploadAsync(metadata, key, cancellationToken).ConfigureAwait(false);
            try
            {
                while (read > 0)
                {
                    await UploadPartAsync(metadata, key, state, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    read = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                }
                using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                    await CompleteAsync(metadata, key, state, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await TryAbortAsync(key, state.UploadId).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // One PUT, conditional on the revision the engine expects.
    private async Task PutAsync(Metadata metadata, string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var expectedETag = ETagOf(metadata.Revision);
        var headers = UseHeaders && (metadata.Revision is null || expectedETag is not null);
        if (!headers) await CheckExpectedAsync("write", key, metadata, cancellationToken).ConfigureAwait(false);
        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            InputStream = AsStream(data),
            ContentType = metadata.MimeType,
            AutoCloseStream = true,
            UseChunkEncoding = false,
            DisablePayloadSigning = _options.IsHttps,
        };
        if (_options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        if (headers)
        {
            // radosgw compares If-Match with the ETag as it stores it: without quotes (AWS accepts both).
            if (metadata.Revision is null) request.IfNoneMatch = "*";
            else request.IfMatch = expectedETag;
        }
        PutObjectResponse response;
        try
        {
            response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (headers && S3Errors.IsPreconditionFailed(e))
        {
            throw await ReportChangedAsync("write", metadata, await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (headers && _options.ConditionalWrites == ConditionalWrites.Auto && S3Errors.IsUnsupported(e))
        {
            Interlocked.Exchange(ref _headersRefused, 1);
            Log.ConditionalWritesUnsupported(_plug.Logger, _options.Describe(), e.ErrorCode ?? e.Message);
            await PutAsync(metadata, key, data, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"write {metadata}");
        }
        var etag = Unquote(response.ETag);
        if (etag.Length == 0)
        {
            var written = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{metadata} is missing from {_options.Describe()} right after it was written.");
            Written(metadata, key, written.Revision!, written.Size, written.ModifiedAt);
            return;
        }
        Written(metadata, key, Revision(etag, data.Length), data.Length);
    }

    // S3 cannot keep the source's modification time: the object's is when the store received it. It is this
    // machine's clock when the write returns unless a HEAD told it (a window of one request, and the clocks' skew).
    private void Written(Metadata metadata, string key, string revision, long size, DateTimeOffset? modifiedAt = null)
    {
        RecordOwn(key, revision);
        metadata.Revision = revision;
        metadata.Size = size;
        metadata.ModifiedAt = modifiedAt ?? DateTimeOffset.UtcNow;
    }

    private static MemoryStream AsStream(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    // ---- Multipart uploads --------------------------------------------------------------------------------------

    private async Task<MultipartState> CreateUploadAsync(Metadata metadata, string key, CancellationToken cancellationToken)
    {
        var request = new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = key, ContentType = metadata.MimeType };
        if (_options.StorageClass is { } storageClass) request.StorageClass = S3StorageClass.FindValue(storageClass);
        var response = await CallAsync($"start uploading {metadata}", () => _client.InitiateMultipartUploadAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new MultipartState { UploadId = response.UploadId, PartSize = _options.PartSize };
    }

    private async Task UploadPartAsync(Metadata metadata, string key, MultipartState state, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        state.Parts.Add(await SendPartAsync(metadata, key, state.UploadId, state.Parts.Count + 1, data, cancellationToken).ConfigureAwait(false));

    // Several parts of one chunk go up together; the parts stored are recorded in order up to the first failure, so
    // that a restart resumes after them.
    private async Task UploadPartsAsync(Metadata metadata, string key, MultipartState state, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        var partSize = (int)Math.Min(state.PartSize, int.MaxValue);
        var sends = new List<Task<StoredPart>>();
        for (var at = 0; at < chunk.Length || at == 0; at += partSize)
            sends.Add(SendPartAsync(metadata, key, state.UploadId, state.Parts.Count + 1 + sends.Count, chunk.Slice(at, Math.Min(partSize, chunk.Length - at)), cancellationToken));
        try
        {
            await Task.WhenAll(sends).ConfigureAwait(false);
        }
        finally
        {
            foreach (var send in sends)
            {
                if (!send.IsCompletedSuccessfully) break;
                state.Parts.Add(await send.ConfigureAwait(false));
            }
        }
    }

    private async Task<StoredPart> SendPartAsync(Metadata metadata, string key, string uploadId, int number, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var response = await CallAsync($"upload part {number} of {metadata}", () => _client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = number,
            InputStream = AsStream(data),
            PartSize = data.Length,
            UseChunkEncoding = false,
            DisablePayloadSigning = _options.IsHttps,
        }, cancellationToken), cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _partsSent);
        return new StoredPart(number, Unquote(response.ETag), data.Length);
    }

    // Completes a multipart upload once the file still has the revision the engine expects (a HEAD just before, and
    // the conditional headers for stores that check them on completion too).
    private async Task CompleteAsync(Metadata metadata, string key, MultipartState state, CancellationToken cancellationToken)
    {
        await CheckExpectedAsync("write", key, metadata, cancellationToken).ConfigureAwait(false);
        var request = new CompleteMultipartUploadRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            UploadId = state.UploadId,
            PartETags = [.. state.Parts.Select(p => new PartETag(p.Number, p.ETag))],
        };
        CompleteMultipartUploadResponse response;
        try
        {
            response = await _client.CompleteMultipartUploadAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (S3Errors.IsPreconditionFailed(e))
        {
            throw await ReportChangedAsync("write", metadata, await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidPart" && state.HasUnlistedParts)
        {
            // Parts stored past a restart's offset and not sent again (the file's tail came out shorter): S3 drops
            // them, radosgw refuses to complete. The upload cannot finish as it is: it goes, and the engine starts over.
            await TryAbortAsync(key, state.UploadId).ConfigureAwait(false);
            await SaveAsync(key, null, CancellationToken.None).ConfigureAwait(false);
            throw new UploadNotResumableException(
                $"{_options.Describe()} refuses to complete the upload of {metadata} while it holds parts stored before the restart and not sent again; the upload starts over.", e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"complete the upload of {metadata}");
        }
        var size = state.StoredBytes;
        var etag = Unquote(response.ETag);
        if (etag.Length == 0)
        {
            // radosgw's Complete answers an empty ETag: the object says what it is.
            var written = await HeadAsync(key, metadata, cancellationToken).ConfigureAwait(false)
                ?? throw new ServiceException($"{metadata} is missing from {_options.Describe()} right after its upload completed.");
            Written(metadata, key, written.Revision!, written.Size, written.ModifiedAt);
            return;
        }
        Written(metadata, key, Revision(etag, size), size);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A chunk is a whole number of parts (at least S3's 5 MiB each) that go up together: up to 4 (within
    /// <c>concurrency</c>, and 256 MiB a chunk). The engine sends one chunk at a time, and a restart resumes at a
    /// chunk's end, where every part before it is stored.
    /// </remarks>
    public int NegotiateChunkSize(int proposedChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposedChunkSize);
        return (int)Math.Min(_options.PartSize * PartsPerChunk, Array.MaxLength);
    }

    /// <summary>How many parts one chunk holds.</summary>
    internal int PartsPerChunk => (int)Math.Max(1, Math.Min(Math.Min(4, _options.Concurrency), MaxChunkSize / _options.PartSize));

    private const long MaxChunkSize = 256L * 1024 * 1024;

    /// <inheritdoc />
    public async ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        var previous = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false));
        if (previous is not null) await TryAbortAsync(key, previous.UploadId).ConfigureAwait(false);
        var state = await CreateUploadAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await SaveAsync(key, state, cancellationToken).ConfigureAwait(false);
        _uploads[key] = new UploadSession(state);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The parts the store lists for the upload are matched with those recorded; the upload continues after the last
    /// stored part at or before <paramref name="offset"/>, which must end exactly there (every chunk is a part).
    /// </remarks>
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(metadata);
        var state = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false))
            ?? throw new UploadNotResumableException($"No multipart upload of {metadata} is recorded.");
        var listed = new Dictionary<int, PartDetail>();
        try
        {
            int? marker = null;
            while (true)
            {
                var page = await _client.ListPartsAsync(new ListPartsRequest
                {
                    BucketName = _options.Bucket,
                    Key = key,
                    UploadId = state.UploadId,
                    PartNumberMarker = marker?.ToString(CultureInfo.InvariantCulture),
                }, cancellationToken).ConfigureAwait(false);
                foreach (var part in page.Parts ?? []) listed[part.PartNumber ?? 0] = part;
                if (page.IsTruncated != true || page.NextPartNumberMarker is not { } next) break;
                marker = next;
            }
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload" || e.StatusCode == HttpStatusCode.NotFound)
        {
            await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
            throw new UploadNotResumableException($"The multipart upload of {metadata} is gone from {_options.Describe()}.", e);
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"list the stored parts of {metadata}");
        }
        var kept = new List<StoredPart>();
        long stored = 0;
        foreach (var part in state.Parts.OrderBy(p => p.Number))
        {
            if (part.Number != kept.Count + 1 || stored + part.Size > offset) break;
            if (!listed.TryGetValue(part.Number, out var detail) || Unquote(detail.ETag) != part.ETag || detail.Size != part.Size) break;
            kept.Add(part);
            stored += part.Size;
        }
        if (stored != offset)
            throw new UploadNotResumableException($"The multipart upload of {metadata} holds {stored} bytes in whole parts, not the {offset} to resume at.");
        var resumed = new MultipartState { UploadId = state.UploadId, PartSize = state.PartSize, Parts = kept, HighestStoredPart = listed.Keys.DefaultIfEmpty(0).Max() };
        await SaveAsync(key, resumed, cancellationToken).ConfigureAwait(false);
        _uploads[key] = new UploadSession(resumed);
        Log.UploadResumed(_plug.Logger, key, kept.Count + 1, stored);
    }

    /// <inheritdoc />
    public async ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(metadata);
        var session = await SessionAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = session.State;
            if (offset != state.StoredBytes)
                throw new UploadNotResumableException($"A chunk of {metadata} arrived at offset {offset}; the multipart upload holds {state.StoredBytes} bytes.");
            try
            {
                await UploadPartsAsync(metadata, key, state, chunk, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await SaveAsync(key, state, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        var session = await SessionAsync(metadata, key, cancellationToken).ConfigureAwait(false);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // S3 refuses a multipart upload without parts: an empty file is one empty part.
            if (session.State.Parts.Count == 0) await UploadPartAsync(metadata, key, session.State, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            using (await LockAsync(key, cancellationToken).ConfigureAwait(false))
                await CompleteAsync(metadata, key, session.State, cancellationToken).ConfigureAwait(false);
            _uploads.TryRemove(key, out _);
            await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var key = KeyOf(metadata);
        _uploads.TryRemove(key, out var session);
        var state = session?.State ?? MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false));
        if (state is null) return;
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = state.UploadId }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload" || e.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone.
        }
        catch (Exception e) when (S3Errors.IsStoreFailure(e, cancellationToken))
        {
            throw S3Errors.Map(e, _options, $"abort the upload of {metadata}");
        }
        await SaveAsync(key, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task<UploadSession> SessionAsync(Metadata metadata, string key, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(key, out var session)) return session;
        var state = MultipartState.Parse(await _plug.State.GetAsync(MultipartState.StateKey(key), cancellationToken).ConfigureAwait(false))
            ?? throw new UploadNotResumableException($"No multipart upload of {metadata} is in progress.");
        return _uploads.GetOrAdd(key, _ => new UploadSession(state));
    }

    private async Task SaveAsync(string key, MultipartState? state, CancellationToken cancellationToken)
    {
        // The state store is one small table shared by every upload of the service: one write at a time.
        await _stateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _plug.State.SetAsync(MultipartState.StateKey(key), state?.Serialize(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _stateLock.Release();
        }
    }
}
