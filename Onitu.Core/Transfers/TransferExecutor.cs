using System.Diagnostics;
using Onitu.Diagnostics;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

/// <summary>
/// Does one job: an upload (whole-file streamed, or chunk by chunk with the offset persisted after each chunk), a
/// deletion or a move on its target, then records the result. Failures are attributed to the service that failed:
/// a failing source is replaced by the next one that holds the same version; any other failure postpones the job
/// with exponential backoff.
/// </summary>
internal sealed partial class TransferExecutor(SyncCoordinator coordinator, EngineMetrics metrics)
{
    private readonly SemaphoreSlim _chunkedSlots = new(coordinator.Options.MaxParallelTransfers);
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
        catch (ServiceCallException e) when (job.Kind == JobKind.Upload && e.Service == job.Target
                                              && e.InnerException is not (ContentChangedException or UploadNotResumableException))
        {
            if (!await WaitForWayClearingAsync(job, file, e.InnerException!).ConfigureAwait(false))
                await PostponeAsync(job, file, e.Service, e.InnerException!, reported: e.Reported).ConfigureAwait(false);
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
                        && coordinator.Hosts.TryGetValue(r.Service, out var h) && h.CanBeRead
                        && coordinator.Referee.CanRead(r.Service, file.Folder))
            .Select(r => (Replica: r, Host: coordinator.Hosts[r.Service]))
            .OrderByDescending(s => double.IsNaN(s.Host.Throughput) ? 0 : s.Host.Throughput)
            .ToList();
        NoSourceException NoSource()
        {
            // Not the target's fault: the holders are still scanning (wait for them) or failing (retry later).
            var scanning = replicas.Exists(r => r.Holds && r.Version == file.Version
                && coordinator.Hosts.TryGetValue(r.Service, out var h) && h.Status.State == ServiceState.Scanning);
            return new NoSourceException(scanning,
                $"No available service holds version {file.Version} of {file.Folder}:{file.Path} (its holders are failing or stopped).");
        }
        if (sources.Count == 0)
            throw NoSource();

        ServiceCallException? lastSourceFailure = null;
        foreach (var (sourceReplica, source) in sources)
        {
            // Named, then checked again: a stop of the source either finds this transfer and stops it, or came first
            // and is seen here (a stopped service is never read from).
            flight.ReadFrom(source.Name);
            if (!source.CanBeRead)
                continue;
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
        throw lastSourceFailure ?? (Exception)NoSource();
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
                // Each holds two chunk buffers: more transfers in flight for a latency-bound driver
                // (ITransferConcurrency) are for small files, not for more of these at once.
                await _chunkedSlots.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    resumed = await UploadChunksAsync(flight, job, file, readMetadata, writeMetadata, source, (IChunkedReader)sourceDriver,
                        target, (IChunkedWriter)targetDriver, chunkSize, verified, hash).ConfigureAwait(false);
                }
                finally
                {
                    _chunkedSlots.Release();
                }
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
        flight.ReleaseSlot();
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = new ChangeOutcome().Merge(coordinator.Processor.CompleteUpload(tx, job, expected, writeMetadata, racy));
            if (hashed && hash.Finish(file.Size) is { } contentHash)
                tx.SetFileHash(file.Fid, job.Version, contentHash);
            outcome.Events.Add(new FileSynced(coordinator.Clock.GetUtcNow(), target.Name, file.Folder, file.Path, file.Size, source.Name, resumed));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _jobsCompleted);
        Log.FileSynced(coordinator.Logger, file.Folder, file.Path, source.Name, target.Name, file.Size);
    }

    internal void SourceChanged(ServiceHost source, Onitu.Metadata read, Onitu.Metadata? current) =>
        Log.SourceChangedWhileRead(coordinator.Logger, read.Folder, read.Path, source.Name, read.Revision, current?.Revision ?? "gone");

    // ---- failures -------------------------------------------------------------------------------------------

    /// <summary>
    /// An upload that failed on its target while the engine still has to delete or move away, on that target, a file in
    /// the way of its path (a file where the path needs a directory, as when a directory replaced a file and the file
    /// is renamed aside, or files under a directory the path replaces): jobs run in parallel, so the upload may run
    /// first and is refused ("Not a directory"). That is not the target's fault, and the attempt is not counted: the
    /// upload is tried again once the clearing job has had its next try. The clearing job counts its own failures, so
    /// the wait ends when it is done or has given up; an upload then failing is counted as usual.
    /// </summary>
    private async Task<bool> WaitForWayClearingAsync(JobRecord job, FileRecord file, Exception failure)
    {
        var now = coordinator.Clock.GetUtcNow();
        var maxAttempts = coordinator.Jobs.MaxAttempts;
        var waited = await Store.WriteAsync(tx =>
        {
            if (tx.GetWayClearingDue(file.Folder, file.Path, job.Target, maxAttempts) is not { } due)
                return (TimeSpan?)null;
            var retryAt = (due > now ? due : now) + Options.RetryBaseDelay / 4;
            tx.PostponeJob(job.Id, job.Version, job.Attempts, retryAt, $"{job.Target}: {failure.Message}", resetUpload: false);
            return retryAt - now;
        }).ConfigureAwait(false);
        if (waited is not { } delay)
            return false;
        Log.UploadWaitsForWayClearing(coordinator.Logger, file.Folder, file.Path, job.Target, delay, failure.Message);
        return true;
    }

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
