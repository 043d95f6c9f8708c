using System.Buffers;
using Onitu.Diagnostics;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

// Chunked uploads: the offset persisted after each chunk, resumed after a restart.
internal sealed partial class TransferExecutor
{
    /// <summary>Sends the file chunk by chunk, resuming a previous attempt at its saved offset; returns whether it resumed.</summary>
    private async Task<bool> UploadChunksAsync(InFlightJob flight, JobRecord job, FileRecord file, Onitu.Metadata readMetadata,
        Onitu.Metadata writeMetadata, ServiceHost source, IChunkedReader reader, ServiceHost target, IChunkedWriter writer, int chunkSize,
        SourceVerification verified, ContentIdentity.Accumulator hash)
    {
        var token = flight.Token;
        long offset = 0;
        var resumed = false;
        if (job.Started && job.Offset > 0 && job.Offset < file.Size && job.ChunkSize == chunkSize)
        {
            try
            {
                await Call(target, () => writer.RestartUploadAsync(writeMetadata, job.Offset, token)).ConfigureAwait(false);
                offset = job.Offset;
                resumed = true;
                Log.TransferResumed(coordinator.Logger, file.Folder, file.Path, target.Name, offset);
            }
            catch (ServiceCallException e) when (e.InnerException is UploadNotResumableException)
            {
                await Call(target, () => writer.StartUploadAsync(writeMetadata, token)).ConfigureAwait(false);
            }
        }
        else
        {
            await Call(target, () => writer.StartUploadAsync(writeMetadata, token)).ConfigureAwait(false);
        }

        // Two buffers: the next chunk is read from the source while the current one is written to the target.
        var buffers = new[] { ArrayPool<byte>.Shared.Rent(chunkSize), ArrayPool<byte>.Shared.Rent(chunkSize) };
        Task<int>? pendingRead = null;
        try
        {
            await SaveProgressAsync(flight, job, offset, chunkSize).ConfigureAwait(false);
            Task<int> ReadAt(long at, byte[] into) =>
                Call(source, () => reader.ReadChunkAsync(readMetadata, at, into.AsMemory(0, (int)Math.Min(chunkSize, file.Size - at)), token));

            var current = 0;
            pendingRead = offset < file.Size ? ReadAt(offset, buffers[current]) : null;
            while (pendingRead is not null)
            {
                var read = await pendingRead.ConfigureAwait(false);
                pendingRead = null;
                if (read <= 0)
                {
                    throw new ServiceCallException(source.Name, new ServiceException(
                        $"{file.Folder}:{file.Path} on '{source.Name}' ended at {offset} bytes, before its recorded size {file.Size}; it changed since."));
                }
                var chunk = buffers[current].AsMemory(0, read);
                var at = offset;
                current ^= 1;
                if (at + read < file.Size)
                    pendingRead = ReadAt(at + read, buffers[current]);

                if (!resumed)
                    hash.Append(chunk.Span); // chunks go in order from offset 0: the hash of the whole content
                await coordinator.Bandwidth.WaitAsync(read, token).ConfigureAwait(false);
                await Call(target, () => writer.UploadChunkAsync(writeMetadata, at, chunk, token)).ConfigureAwait(false);
                CountBytes(target, read);
                offset = at + read;
                await SaveProgressAsync(flight, job, offset, chunkSize).ConfigureAwait(false);
            }
            if (!await verified.SourceUnchangedAsync(token).ConfigureAwait(false))
            {
                // Chunks of two revisions must never become the file: the partial upload goes.
                await writer.AbortUploadAsync(writeMetadata, CancellationToken.None).ConfigureAwait(false);
                throw new SourceChangedException();
            }
            await Call(target, () => DriverResults.RequireRevisionAsync(writer.EndUploadAsync(writeMetadata, token), writeMetadata, "EndUploadAsync")).ConfigureAwait(false);
            return resumed;
        }
        catch (Exception e) when (flight.Superseded || e is ServiceCallException { InnerException: ContentChangedException or ServiceException { IsTransient: false } or DriverException })
        {
            // A newer version replaces this one, or the upload cannot succeed as it is: drop the partial upload.
            // (A stop or a transient failure keeps it, so the next attempt resumes at the saved offset.)
            try
            {
                await writer.AbortUploadAsync(writeMetadata, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception abortFailure) when (abortFailure is OnituException or IOException)
            {
                Log.SourceFailed(coordinator.Logger, target.Name, file.Folder, file.Path, "abort failed: " + abortFailure.Message);
            }
            throw;
        }
        finally
        {
            if (pendingRead is not null)
            {
                // A buffer goes back to the pool only once no read is writing into it.
                await pendingRead.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                    .ConfigureAwait(false);
            }
            foreach (var buffer in buffers)
                ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Counts bytes as they reach a target (not at the end of a transfer: a resume counts what it wrote).</summary>
    private void CountBytes(ServiceHost target, long bytes)
    {
        Interlocked.Add(ref _bytesTransferred, bytes);
        metrics.AddBytes(target.Name, bytes);
    }

    private async Task SaveProgressAsync(InFlightJob flight, JobRecord job, long offset, int chunkSize)
    {
        var current = await Store.WriteAsync(tx => tx.SaveProgress(job.Id, job.Version, offset, chunkSize)).ConfigureAwait(false);
        if (!current)
        {
            flight.Supersede(); // the row was rewritten by a newer version
            flight.Token.ThrowIfCancellationRequested();
        }
    }
}
