using Onitu.Services;
using Onitu.State;
using Onitu.Sync;

namespace Onitu.Transfers;

// Conflict preservation: the losing content kept under its conflict name before the winner overwrites it.
internal sealed partial class TransferExecutor
{
    /// <summary>
    /// Before the winner of a conflict overwrites the target, the target's own content (the losing write) is kept
    /// under the conflict name: moved natively when the driver can, else copied within the target.
    /// </summary>
    private async Task<bool> PreserveAsync(InFlightJob flight, JobRecord job, FileRecord file, ServiceHost target, string? expected, string conflictPath)
    {
        var token = flight.Token;
        var driver = target.Driver!;
        var moved = false;
        if (expected is not null)
            conflictPath = await FreeConflictPathAsync(job, file, conflictPath).ConfigureAwait(false);
        var copy = new Onitu.Metadata(file.Folder, conflictPath);
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

    /// <summary>
    /// The planned conflict name, or the next free one when a file of that name turned up since it was planned (on this
    /// target, reported after the plan: a leftover of a killed pass whose database was then lost, say). The content is
    /// never moved over it: the move would be refused, and was, at every attempt ("it changed on disk").
    /// </summary>
    private async Task<string> FreeConflictPathAsync(JobRecord job, FileRecord file, string conflictPath) =>
        await Store.WriteAsync(tx =>
        {
            if (!tx.HasLiveFile(file.Folder, conflictPath))
                return conflictPath;
            var next = ConflictNaming.Next(conflictPath, path => tx.IsConflictNameTaken(file.Folder, path, file.Fid));
            return tx.RenamePreserve(job.Id, conflictPath, next) ? next : conflictPath;
        }).ConfigureAwait(false);

    /// <summary>Drops the partial file an upload no longer wanted left on its target.</summary>
    private static async Task AbortPartialAsync(FileRecord file, ServiceHost target)
    {
        if (target.Driver is IChunkedWriter writer)
            await Call(target, () => writer.AbortUploadAsync(ToMetadata(file, null, null), CancellationToken.None)).ConfigureAwait(false);
    }
}
