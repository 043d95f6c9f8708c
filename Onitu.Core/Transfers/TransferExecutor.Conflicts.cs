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
}
