using Onitu.Diagnostics;
using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

// Deletions and moves on a target, and a move's fallback to a copy.
internal sealed partial class TransferExecutor
{
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
        var (fromFile, fromReplica, toReplica, heldElsewhere) = await Store.WriteAsync(tx =>
            (tx.GetFile(moveFrom), tx.GetReplica(moveFrom, target.Name), tx.GetReplica(job.Fid, target.Name),
             tx.GetReplicas(job.Fid).Exists(r => r.Service != target.Name && r.Holds && r.Version == job.Version))).ConfigureAwait(false);

        if (file.Version != job.Version || file.Deleted)
        {
            await Store.WriteAsync(tx => tx.DeleteJob(job.Id, job.Version)).ConfigureAwait(false);
            return;
        }
        if (fromFile is null || fromReplica is not { Holds: true })
        {
            await FallBackToCopyAsync(job, fromFile, fromReplica).ConfigureAwait(false);
            return;
        }

        var source = ToMetadata(fromFile, fromReplica.Revision, fromReplica.Extra);
        var destination = ToMetadata(file, toReplica?.Revision, null);
        if (target.Driver is not INativeMove mover)
        {
            // No other service holds the moved file yet (a rename aside): the target's old copy is its only source.
            if (heldElsewhere)
                await FallBackToCopyAsync(job, fromFile, fromReplica).ConfigureAwait(false);
            else
                await CopyAsideAsync(flight, job, fromFile, fromReplica, source, file, destination, target).ConfigureAwait(false);
            return;
        }
        try
        {
            await Call(target, () => DriverResults.RequireRevisionAsync(mover.MoveFileAsync(source, destination, flight.Token), destination, "MoveFileAsync")).ConfigureAwait(false);
        }
        catch (ServiceCallException e) when (e.InnerException is RemoteFileNotFoundException)
        {
            await MoveSourceGoneAsync(job, source, file, target).ConfigureAwait(false);
            return;
        }
        await RecordMoveAsync(job, fromFile, fromReplica, source, file, destination, target, oldKept: false).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a move done on <paramref name="target"/>: by its driver (the old name is gone), or as a copy whose old
    /// name is deleted by a job of its own (<paramref name="oldKept"/>).
    /// </summary>
    private async Task RecordMoveAsync(JobRecord job, FileRecord fromFile, ReplicaRecord fromReplica, Onitu.Metadata source,
        FileRecord file, Onitu.Metadata destination, ServiceHost target, bool oldKept)
    {
        Log.FileMoved(coordinator.Logger, fromFile.Folder, fromFile.Path, file.Folder, file.Path, target.Name);
        // A move keeps the content and its time: what was racily clean before still is.
        var racy = fromReplica.Racy || coordinator.IsRacy(target.Name, destination);
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = new ChangeOutcome().Merge(coordinator.Processor.CompleteMove(tx, job, source, destination, oldKept));
            if (racy)
                tx.MarkRacy(job.Fid, job.Target, destination.Revision);
            outcome.Events.Add(new FileMoved(coordinator.Clock.GetUtcNow(), target.Name, fromFile.Folder, fromFile.Path, file.Folder, file.Path));
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _jobsCompleted);
    }

    /// <summary>
    /// A move on a target without a native move, of a file no other service holds under its new name yet (a rename
    /// aside, whose content may be on this target only): the target copies its own file to the new name, checked against
    /// the revision it was read at, and the old name is then deleted there by a job of its own (compare-and-swap: an
    /// edit made there meanwhile is kept). Falling back to an upload instead asked for a copy no service could be the
    /// source of, failing at every attempt.
    /// </summary>
    private async Task CopyAsideAsync(InFlightJob flight, JobRecord job, FileRecord fromFile, ReplicaRecord fromReplica,
        Onitu.Metadata source, FileRecord file, Onitu.Metadata destination, ServiceHost target)
    {
        var driver = target.Driver!;
        var expected = destination.Revision;
        Stream content;
        try
        {
            content = await Call(target, () => driver.OpenReadAsync(source, flight.Token)).ConfigureAwait(false);
        }
        catch (ServiceCallException e) when (e.InnerException is RemoteFileNotFoundException)
        {
            await MoveSourceGoneAsync(job, source, file, target).ConfigureAwait(false);
            return;
        }
        var verified = new SourceVerification(this, target, driver, source);
        try
        {
            await using (content.ConfigureAwait(false))
            {
                var checkedAtEnd = new VerifyAtEndStream(content, verified, flight.Token);
                await Call(target, () => DriverResults.RequireRevisionAsync(driver.UploadFileAsync(destination, checkedAtEnd, flight.Token), destination, "UploadFileAsync")).ConfigureAwait(false);
            }
        }
        catch (Exception) when (verified.Changed)
        {
            // The old copy changed while it was read, and that change, reported, dropped this move (the target's own
            // change of the file); nothing was written under the new name.
            return;
        }
        if (!verified.Checked && !await verified.SourceUnchangedAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // Checked after the write (a driver that read the stream to its size only): what landed under the new name
            // is of no known version, recorded so and deleted in turn.
            await coordinator.ApplyAsync(tx => coordinator.Processor.RecordUnverifiedCopy(tx, job, expected, destination),
                CancellationToken.None).ConfigureAwait(false);
            return;
        }
        await RecordMoveAsync(job, fromFile, fromReplica, source, file, destination, target, oldKept: true).ConfigureAwait(false);
    }

    /// <summary>
    /// The file to move is not on the target any more: the target's own deletion, which its next scan would report. It is
    /// recorded as that now, which drops the move (<see cref="ChangeProcessor.ApplyDelete"/>): the target receives the
    /// moved file from a service holding it, and a file renamed aside that no holder kept is deleted. Falling back to a
    /// copy, as a move without a native move does, asked for an upload that no service could be the source of when the
    /// target was the last holder (a rename aside), failing at every attempt.
    /// </summary>
    private async Task MoveSourceGoneAsync(JobRecord job, Onitu.Metadata source, FileRecord file, ServiceHost target)
    {
        Log.MoveSourceGone(coordinator.Logger, source.Folder, source.Path, file.Path, target.Name);
        await coordinator.ApplyAsync(tx =>
        {
            var outcome = coordinator.Processor.ApplyDelete(tx, target.Name, source);
            if (tx.GetJob(job.Fid, target.Name) is { Kind: JobKind.Move } left && left.Id == job.Id)
            {
                // Still planned (the deletion did not concern it): the moved file is copied there from its holders.
                tx.ConvertJob(job.Id, JobKind.Upload);
                outcome.TouchedJobs.Add((job.Fid, job.Target));
            }
            return outcome;
        }, CancellationToken.None).ConfigureAwait(false);
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
}
