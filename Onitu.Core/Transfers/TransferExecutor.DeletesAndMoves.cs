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
            await MoveSourceGoneAsync(job, source, file, target).ConfigureAwait(false);
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
