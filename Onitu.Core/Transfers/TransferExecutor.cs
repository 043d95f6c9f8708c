using System.Buffers;
using System.Diagnostics;
using Onitu.Diagnostics;
using Onitu.Services;
using Onitu.Sync;
using Onitu.State;

namespace Onitu.Transfers;

/// <summary>
/// Does one job: an upload (whole-file streamed, or chunk by chunk with the offset persisted after each chunk), a
/// deletion or a move on its target, then records the result. Failures are attributed to the service that failed:
/// a failing source is replaced by the next one that holds the same version; any other failure postpones the job
/// with exponential backoff.
/// </summary>
internal sealed class TransferExecutor(SyncCoordinator coordinator, EngineMetrics metrics)
{
    private long _bytesTransferred;
    private long _jobsCompleted;

    public long BytesTransferred => Interlocked.Read(ref _bytesTransferred);
    public long JobsCompleted => Interlocked.Read(ref _jobsCompleted);

    private MetadataStore Store => coordinator.Store;
    private SyncEngineOptions Options => coordinator.Options;

    public async Task ExecuteAsync(InFlightJob flight)
    {
        var (job, file, replicas) = (flight.Job, flight.File, flight.Replicas);
        if (!coordinator.Hosts.TryGetValue(job.Target, out var target) || !target.IsReady)
            return;

        // The target's driver stays open until this job is done, even if the service fails meanwhile.
        using var targetLease = target.LeaseDriver();
        if (targetLease is null)
            return;
        Log.JobStarting(coordinator.Logger, job.Kind.ToString(), file.Folder, file.Path, job.Target, job.Version);
        using var activity = OnituTelemetry.StartTransfer(job.Kind.ToString(), file.Folder, file.Path, job.Target);
        try
        {
            switch (job.Kind)
            {
                case JobKind.Upload when file.Deleted || file.Version != job.Version:
                    // A newer change no longer sends this version here (deleted, or not for this target any more).
                    if (job.Started)
                        await AbortPartialAsync(file, target).ConfigureAwait(false);
                    await Store.WriteAsync(tx => tx.DeleteJob(job.Id, job.Version)).ConfigureAwait(false);
                    break;
                case JobKind.AbortUpload:
                    await AbortPartialAsync(file, target).ConfigureAwait(false);
                    await Store.WriteAsync(tx => tx.DeleteJob(job.Id, job.Version)).ConfigureAwait(false);
                    break;
                case JobKind.Upload:
                    await UploadAsync(flight, job, file, replicas, target).ConfigureAwait(false);
                    break;
                case JobKind.Delete:
                    await DeleteAsync(flight, job, file, replicas, target).ConfigureAwait(false);
                    break;
                case JobKind.Move:
                    await MoveAsync(flight, job, file, target).ConfigureAwait(false);
                    break;
            }
        }
        catch (OperationCanceledException) when (flight.Token.IsCancellationRequested)
        {
            if (flight.Superseded)
                Log.TransferSuperseded(coordinator.Logger, file.Folder, file.Path, job.Target);
        }
        catch (NoSourceException e) when (e.SourcesStarting)
        {
            await Store.WriteAsync(tx => tx.PostponeJob(job.Id, job.Version, job.Attempts,
                coordinator.Clock.GetUtcNow() + Options.RetryBaseDelay / 4, e.Message, resetUpload: false)).ConfigureAwait(false);
        }
        catch (NoSourceException e)
        {
            await PostponeAsync(job, file, service: null, e).ConfigureAwait(false);
        }
        catch (ServiceCallException e)
        {
            await PostponeAsync(job, file, e.Service, e.InnerException!, reported: e.Reported).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Whatever a driver throws (drivers are third-party code) fails this job, never the engine.
            await PostponeAsync(job, file, job.Target, e).ConfigureAwait(false);
        }
    }

    // ---- uploads --------------------------------------------------------------------------------------------

    private async Task UploadAsync(InFlightJob flight, JobRecord job, FileRecord file, List<ReplicaRecord> replicas, ServiceHost target)
    {
        var expected = replicas.Find(r => r.Service == target.Name)?.Revision;
        if (job.PreserveAs is { } conflictPath)
        {
            var moved = await PreserveAsync(flight, job, file, target, expected, conflictPath).ConfigureAwait(false);
            if (moved)
                expected = null;
        }

        var sources = replicas
            .Where(r => r.Holds && r.Version == file.Version && r.Service != target.Name
                        && coordinator.Hosts.TryGetValue(r.Service, out var h) && h.IsReady
                        && coordinator.Referee.CanRead(r.Service, file.Folder))
            .Select(r => (Replica: r, Host: coordinator.Hosts[r.Service]))
            .OrderByDescending(s => double.IsNaN(s.Host.Throughput) ? 0 : s.Host.Throughput)
            .ToList();
        if (sources.Count == 0)
        {
            // Not the target's fault: the holders are still scanning (wait for them) or failing (retry later).
            var scanning = replicas.Exists(r => r.Holds && r.Version == file.Version
                && coordinator.Hosts.TryGetValue(r.Service, out var h) && h.Status.State == ServiceState.Scanning);
            throw new NoSourceException(scanning,
                $"No available service holds version {file.Version} of {file.Folder}:{file.Path} (its holders are failing or stopped).");
        }

        ServiceCallException? lastSourceFailure = null;
        foreach (var (sourceReplica, source) in sources)
        {
            try
            {
                using var sourceLease = source.LeaseDriver()
                    ?? throw new ServiceCallException(source.Name, new ServiceException($"Service '{source.Name}' is not running.", isTransient: true));
                await TransferAsync(flight, job, file, sourceReplica, source, target, expected).ConfigureAwait(false);
                return;
            }
            catch (ServiceCallException e) when (e.Service == source.Name)
            {
                // The best source failed: the next one holding the same version takes over.
                Log.SourceFailed(coordinator.Logger, source.Name, file.Folder, file.Path, e.InnerException!.Message);
                if (e.InnerException is not (RemoteFileNotFoundException or PathRefusedException))
                    source.ReportTransferFailure(e.InnerException!);
                e.Reported = true;
                lastSourceFailure = e;
            }
        }
        throw lastSourceFailure!;
    }

    private async Task TransferAsync(InFlightJob flight, JobRecord job, FileRecord file, ReplicaRecord sourceReplica,
        ServiceHost source, ServiceHost target, string? expected)
    {
        var token = flight.Token;
        var sourceDriver = source.Driver ?? throw new ServiceCallException(source.Name, new ServiceException($"Service '{source.Name}' is not running."));
        var targetDriver = target.Driver ?? throw new ServiceCallException(target.Name, new ServiceException($"Service '{target.Name}' is not running."));
        var readMetadata = ToMetadata(file, sourceReplica.Revision, sourceReplica.Extra);
        var writeMetadata = ToMetadata(file, expected, null);

        var chunkSize = Options.ChunkSize;
        if (targetDriver is IChunkedWriter negotiating)
            chunkSize = Math.Max(1, negotiating.NegotiateChunkSize(chunkSize));
        var chunked = targetDriver is IChunkedWriter && sourceDriver is IChunkedReader && file.Size >= 2L * chunkSize;

        var started = Stopwatch.GetTimestamp();
        var resumed = false;
        // A chunked upload interrupted part-way resumes where it stopped rather than starting over as a copy.
        var resumable = chunked && job.Started && job.Offset > 0;
        var verified = new SourceVerification(this, source, sourceDriver, readMetadata);
        // The content's hash, recorded when the bytes pass through the engine from the start (not a native or resumed copy).
        var hash = new ContentIdentity.Accumulator();
        var hashed = false;
        try
        {
            if (Options.UseNativeCopy && !resumable && !coordinator.Bandwidth.IsLimited
                && targetDriver is INativeCopy copier && copier.CanCopyFrom(sourceDriver))
            {
                await Call(target, () => DriverResults.RequireRevisionAsync(copier.CopyFromAsync(sourceDriver, readMetadata, writeMetadata, token), writeMetadata, "CopyFromAsync")).ConfigureAwait(false);
                CountBytes(target, file.Size);
            }
            else if (chunked)
            {
                resumed = await UploadChunksAsync(flight, job, file, readMetadata, writeMetadata, source, (IChunkedReader)sourceDriver,
                    target, (IChunkedWriter)targetDriver, chunkSize, verified, hash).ConfigureAwait(false);
                hashed = !resumed;
            }
            else
            {
                var content = await Call(source, () => sourceDriver.OpenReadAsync(readMetadata, token)).ConfigureAwait(false);
                await using (content.ConfigureAwait(false))
                {
                    var attributed = new CountingReadStream(new SourceAttributingStream(coordinator.Bandwidth.Wrap(content), source.Name),
                        bytes => CountBytes(target, bytes));
                    var checkedAtEnd = new VerifyAtEndStream(new HashingReadStream(attributed, hash), verified, token);
                    hashed = true;
                    await Call(target, () => DriverResults.RequireRevisionAsync(targetDriver.UploadFileAsync(writeMetadata, checkedAtEnd, token), writeMetadata, "UploadFileAsync")).ConfigureAwait(false);
                }
            }
        }
        catch (Exception) when (verified.Changed)
        {
            // The source changed while it was read: the target kept its previous content (the failed end of the
            // stream stopped the write before its rename), and the new revision, reported, has its own job.
            return;
        }
        // Judged as the write returns: a file just written is usually within its store's timestamp resolution.
        var racy = coordinator.IsRacy(target.Name, writeMetadata);
        // A copy whose end the source could not be checked at (a native copy, a target that stopped reading at the
        // size) is checked now: if the source changed, the copy is not recorded and the new revision replaces it.
        if (!verified.Checked && !await verified.SourceUnchangedAsync(CancellationToken.None).ConfigureAwait(false))
        {
            await coordinator.ApplyAsync(tx => coordinator.Processor.RecordUnverifiedCopy(tx, job, expected, writeMetadata),
                CancellationToken.None).ConfigureAwait(false);
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        source.ReportTransferSuccess(file.Size, elapsed);
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = new ChangeOutcome().Merge(coordinator.Processor.CompleteUpload(tx, job, expected, writeMetadata));
            if (racy)
                tx.MarkRacy(job.Fid, job.Target, writeMetadata.Revision);
            if (hashed && hash.Finish(file.Size) is { } contentHash)
                tx.SetFileHash(file.Fid, job.Version, contentHash);
            outcome.Events.Add(new FileSynced(coordinator.Clock.GetUtcNow(), target.Name, file.Folder, file.Path, file.Size, source.Name, resumed));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _jobsCompleted);
        Log.FileSynced(coordinator.Logger, file.Folder, file.Path, source.Name, target.Name, file.Size);
    }

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

    /// <summary>
    /// Before the winner of a conflict overwrites the target, the target's own content (the losing write) is kept
    /// under the conflict name: moved natively when the driver can, else copied within the target.
    /// </summary>
    private async Task<bool> PreserveAsync(InFlightJob flight, JobRecord job, FileRecord file, ServiceHost target, string? expected, string conflictPath)
    {
        var token = flight.Token;
        var driver = target.Driver!;
        var copy = new Onitu.Metadata(file.Folder, conflictPath);
        var moved = false;
        if (expected is not null)
        {
            var original = ToMetadata(file, expected, null);
            try
            {
                if (driver is INativeMove mover)
                {
                    await Call(target, () => DriverResults.RequireRevisionAsync(mover.MoveFileAsync(original, copy, token), copy, "MoveFileAsync")).ConfigureAwait(false);
                    moved = true;
                }
                else
                {
                    var content = await Call(target, () => driver.OpenReadAsync(original, token)).ConfigureAwait(false);
                    await using (content.ConfigureAwait(false))
                        await Call(target, () => DriverResults.RequireRevisionAsync(driver.UploadFileAsync(copy, content, token), copy, "UploadFileAsync")).ConfigureAwait(false);
                }
            }
            catch (ServiceCallException e) when (e.InnerException is RemoteFileNotFoundException)
            {
                // The losing content is gone from the target already; nothing left to keep.
                await Store.WriteAsync(tx => tx.ClearPreserve(job.Id, job.Version)).ConfigureAwait(false);
                return false;
            }
            var racy = coordinator.IsRacy(target.Name, copy);
            await coordinator.ApplyAsync(tx =>
            {
                var outcome = coordinator.Processor.CompletePreserve(tx, job, copy, moved);
                if (racy)
                    tx.MarkRacy(copy.Fid, job.Target, copy.Revision);
                return outcome;
            }, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await Store.WriteAsync(tx => tx.ClearPreserve(job.Id, job.Version)).ConfigureAwait(false);
        }
        return moved;
    }

    /// <summary>Drops the partial file an upload no longer wanted left on its target.</summary>
    private static async Task AbortPartialAsync(FileRecord file, ServiceHost target)
    {
        if (target.Driver is IChunkedWriter writer)
            await Call(target, () => writer.AbortUploadAsync(ToMetadata(file, null, null), CancellationToken.None)).ConfigureAwait(false);
    }

    // ---- deletions and moves ------------------------------------------------------------------------------------

    private async Task DeleteAsync(InFlightJob flight, JobRecord job, FileRecord file, List<ReplicaRecord> replicas, ServiceHost target)
    {
        var expected = replicas.Find(r => r.Service == target.Name)?.Revision;
        // A conflict's losing content on the target is kept under its conflict name before the path is cleared.
        if (job.PreserveAs is { } conflictPath && await PreserveAsync(flight, job, file, target, expected, conflictPath).ConfigureAwait(false))
            expected = null;
        if (expected is not null)
        {
            var metadata = ToMetadata(file, expected, null);
            await Call(target, () => target.Driver!.DeleteFileAsync(metadata, flight.Token)).ConfigureAwait(false);
            Log.FileDeleted(coordinator.Logger, file.Folder, file.Path, target.Name);
        }
        await coordinator.ApplyAsync(tx =>
        {
            coordinator.Processor.CompleteDelete(tx, job, expected);
            var outcome = new ChangeOutcome();
            if (expected is not null)
                outcome.Events.Add(new FileDeleted(coordinator.Clock.GetUtcNow(), target.Name, file.Folder, file.Path));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _jobsCompleted);
    }

    private async Task MoveAsync(InFlightJob flight, JobRecord job, FileRecord file, ServiceHost target)
    {
        var moveFrom = job.MoveFrom!.Value;
        var (fromFile, fromReplica, toReplica) = await Store.WriteAsync(tx =>
            (tx.GetFile(moveFrom), tx.GetReplica(moveFrom, target.Name), tx.GetReplica(job.Fid, target.Name))).ConfigureAwait(false);

        if (file.Version != job.Version || file.Deleted)
        {
            await Store.WriteAsync(tx => tx.DeleteJob(job.Id, job.Version)).ConfigureAwait(false);
            return;
        }
        if (target.Driver is not INativeMove mover || fromFile is null || fromReplica is not { Holds: true })
        {
            await FallBackToCopyAsync(job, fromFile, fromReplica).ConfigureAwait(false);
            return;
        }

        var source = ToMetadata(fromFile, fromReplica.Revision, fromReplica.Extra);
        var destination = ToMetadata(file, toReplica?.Revision, null);
        try
        {
            await Call(target, () => DriverResults.RequireRevisionAsync(mover.MoveFileAsync(source, destination, flight.Token), destination, "MoveFileAsync")).ConfigureAwait(false);
        }
        catch (ServiceCallException e) when (e.InnerException is RemoteFileNotFoundException)
        {
            await FallBackToCopyAsync(job, fromFile, fromReplica).ConfigureAwait(false);
            return;
        }
        Log.FileMoved(coordinator.Logger, fromFile.Folder, fromFile.Path, file.Folder, file.Path, target.Name);
        // A move keeps the content and its time: what was racily clean before still is.
        var racy = fromReplica.Racy || coordinator.IsRacy(target.Name, destination);
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = new ChangeOutcome().Merge(coordinator.Processor.CompleteMove(tx, job, source, destination));
            if (racy)
                tx.MarkRacy(job.Fid, job.Target, destination.Revision);
            outcome.Events.Add(new FileMoved(coordinator.Clock.GetUtcNow(), target.Name, fromFile.Folder, fromFile.Path, file.Folder, file.Path));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _jobsCompleted);
    }

    /// <summary>Without a native move (or without the old copy), a move is a deletion of the old path and a copy of the new.</summary>
    private async Task FallBackToCopyAsync(JobRecord job, FileRecord? fromFile, ReplicaRecord? fromReplica)
    {
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = new ChangeOutcome();
            // The old copy goes only once the content is safe elsewhere: a file the engine renamed aside may have no
            // other holder yet, and its old path is then its only copy.
            var heldElsewhere = tx.GetReplicas(job.Fid).Exists(r => r.Holds && r.Version == job.Version);
            if (fromFile is not null && fromReplica is { Holds: true } && heldElsewhere)
            {
                tx.PutJob(fromFile.Fid, job.Target, JobKind.Delete, fromFile.Version);
                outcome.TouchedJobs.Add((fromFile.Fid, job.Target));
            }
            tx.ConvertJob(job.Id, JobKind.Upload);
            outcome.TouchedJobs.Add((job.Fid, job.Target));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
    }

    internal void SourceChanged(ServiceHost source, Onitu.Metadata read, Onitu.Metadata? current) =>
        Log.SourceChangedWhileRead(coordinator.Logger, read.Folder, read.Path, source.Name, read.Revision, current?.Revision ?? "gone");

    // ---- failures -------------------------------------------------------------------------------------------

    private async Task PostponeAsync(JobRecord job, FileRecord file, string? service, Exception failure, bool reported = false)
    {
        var contentChanged = failure is ContentChangedException;
        if (!contentChanged && !reported && service is not null && coordinator.Hosts.TryGetValue(service, out var host) && failure is not (RemoteFileNotFoundException or PathRefusedException))
            host.ReportTransferFailure(failure);

        // A target that changed under the transfer reported its change; the job was (or is about to be) rewritten
        // by it (which starts its count afresh), so it is retried soon. The attempt still counts: a refusal that
        // repeats without a new report can make no progress and must end as a reported failure, not a loop.
        var attempts = job.Attempts + 1;
        var delay = contentChanged
            ? Options.RetryBaseDelay / 4
            : Options.RetryDelay(attempts);
        var message = service is null ? failure.Message : $"{service}: {failure.Message}";
        await Store.WriteAsync(tx => tx.PostponeJob(job.Id, job.Version, attempts, coordinator.Clock.GetUtcNow() + delay, message,
            resetUpload: failure is UploadNotResumableException)).ConfigureAwait(false);

        var willRetry = attempts < coordinator.Jobs.MaxAttempts;
        Log.JobFailed(coordinator.Logger, job.Kind.ToString(), file.Folder, file.Path, job.Target, attempts, delay, message,
            failure is ServiceException or ContentChangedException ? null : failure);
        coordinator.Events.Publish(new TransferFailed(coordinator.Clock.GetUtcNow(), job.Target, file.Folder, file.Path, message, willRetry));
    }

    private static Onitu.Metadata ToMetadata(FileRecord file, string? revision, string? extra)
    {
        var metadata = new Onitu.Metadata(file.Folder, file.Path)
        {
            Size = file.Size,
            ModifiedAt = file.ModifiedAt,
            Revision = revision,
        };
        ChangeProcessor.DeserializeExtra(extra, metadata.Extra);
        return metadata;
    }

    /// <summary>Calls a driver, tagging whatever it throws with the service, so failures are blamed on the right side.</summary>
    private static async Task<T> Call<T>(ServiceHost service, Func<ValueTask<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not ServiceCallException)
        {
            throw new ServiceCallException(service.Name, e);
        }
    }

    private static Task Call(ServiceHost service, Func<ValueTask> call) =>
        Call(service, async () =>
        {
            await call().ConfigureAwait(false);
            return true;
        });

    /// <summary>Tags a failing read of a source stream with the source, even when it surfaces inside the target's handler.</summary>
    private sealed class SourceAttributingStream(Stream inner, string service) : ReadOnlyStreamWrapper(inner)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            try
            {
                return Inner.Read(buffer, offset, count);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new ServiceCallException(service, e);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new ServiceCallException(service, e);
            }
        }
    }
}

/// <summary>
/// The check, at the end of a transfer, that its source still holds the revision it was read at (<see cref="IFileStat"/>).
/// When it does not, the source's new state is reported as its driver would, which gives the file a new version and
/// rewrites the job: the transfer is not recorded, and the new content is sent instead.
/// </summary>
internal sealed class SourceVerification(TransferExecutor executor, ServiceHost source, IDriver driver, Onitu.Metadata read)
{
    /// <summary>Whether the check ran.</summary>
    public bool Checked { get; private set; }

    /// <summary>Whether it found the source changed.</summary>
    public bool Changed { get; private set; }

    public async Task<bool> SourceUnchangedAsync(CancellationToken cancellationToken)
    {
        Checked = true;
        if (driver is not IFileStat stat)
            return true;
        Onitu.Metadata? current;
        try
        {
            current = await stat.StatAsync(read, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ServiceCallException(source.Name, e);
        }
        if (current is not null && current.Revision == read.Revision)
            return true;

        Changed = true;
        executor.SourceChanged(source, read, current);
        if (current is null)
            await source.Plug.DeleteFileAsync(read, CancellationToken.None).ConfigureAwait(false);
        else
            await source.Plug.UpdateFileAsync(current, CancellationToken.None).ConfigureAwait(false);
        return false;
    }
}

/// <summary>The source changed during a transfer (see <see cref="SourceVerification"/>); what was written is not kept.</summary>
internal sealed class SourceChangedException() : OnituException("The source changed while it was read.");

/// <summary>Feeds what is read through it to a content hash (see <see cref="ContentIdentity.Accumulator"/>).</summary>
internal sealed class HashingReadStream(Stream inner, ContentIdentity.Accumulator hash) : ReadOnlyStreamWrapper(inner)
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = Inner.Read(buffer, offset, count);
        hash.Append(buffer.AsSpan(offset, read));
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        hash.Append(buffer.Span[..read]);
        return read;
    }
}

/// <summary>
/// Checks the source when its content has been read to the end, before the target's handler sees the end and commits:
/// a failed check fails the read, so the target drops its temporary file and keeps its previous content.
/// </summary>
internal sealed class VerifyAtEndStream(Stream inner, SourceVerification verification, CancellationToken cancellationToken) : ReadOnlyStreamWrapper(inner)
{
    // A synchronous reader gets no check at the end (that would block on I/O); the transfer checks after the write.
    public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken readCancellation = default)
    {
        var read = await Inner.ReadAsync(buffer, readCancellation).ConfigureAwait(false);
        if (read == 0 && buffer.Length > 0 && !verification.Checked
            && !await verification.SourceUnchangedAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new SourceChangedException();
        }
        return read;
    }
}

/// <summary>No ready service holds the version to send; <see cref="SourcesStarting"/> when one is still scanning.</summary>
internal sealed class NoSourceException(bool sourcesStarting, string message) : OnituException(message)
{
    public bool SourcesStarting { get; } = sourcesStarting;
}

/// <summary>A driver call failed; <see cref="Service"/> says on which service.</summary>
internal sealed class ServiceCallException(string service, Exception inner) : Exception($"{service}: {inner.Message}", inner)
{
    public string Service { get; } = service;

    /// <summary>Whether the failure was already counted against the service's health (so it is not counted twice).</summary>
    public bool Reported { get; set; }
}
