using Onitu.Storage;
using RefereeRules = Onitu.Referee.Referee;

namespace Onitu.Engine;

/// <summary>
/// After a rule reload, walks every known file (a batch at a time, in fid order, never all in memory) and persists
/// the uploads the new rules ask for that no job or replica covers yet: a file the old rules kept from a service
/// is sent to it now. Rules that stop matching delete nothing (a refused file is "never read from or written to",
/// it is not removed).
/// </summary>
internal static class RuleReevaluation
{
    private const int BatchSize = 500;

    public static async Task<long> RunAsync(SyncCoordinator coordinator, RefereeRules referee, CancellationToken cancellationToken)
    {
        long added = 0;
        var after = "";
        while (true)
        {
            var batch = await ReadBatchAsync(coordinator.Store, after, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
                return added;
            after = StoreTransaction.Key(batch[^1].Fid);
            var batchAdded = 0L;
            await coordinator.ApplyAsync(tx =>
            {
                var outcome = new ChangeOutcome();
                foreach (var file in batch)
                    batchAdded += AddMissingUploads(tx, referee, file, outcome);
                return outcome;
            }, cancellationToken).ConfigureAwait(false);
            added += batchAdded;
        }
    }

    private static async Task<List<FileRecord>> ReadBatchAsync(MetadataStore store, string after, CancellationToken cancellationToken)
    {
        var files = new List<FileRecord>(BatchSize);
        await foreach (var file in store.QueryAsync(StoreTransaction.SelectFiles + " WHERE fid > $after AND deleted = 0 ORDER BY fid LIMIT $limit",
            p =>
            {
                p.AddWithValue("$after", after);
                p.AddWithValue("$limit", BatchSize);
            }, StoreTransaction.ReadFile, cancellationToken).ConfigureAwait(false))
        {
            files.Add(file);
        }
        return files;
    }

    private static int AddMissingUploads(StoreTransaction tx, RefereeRules referee, FileRecord snapshot, ChangeOutcome outcome)
    {
        // Re-read inside the write: the file may have changed since the batch was read.
        var file = tx.GetFile(snapshot.Fid);
        if (file is null || file.Deleted)
            return 0;
        var replicas = tx.GetReplicas(file.Fid);
        var holders = replicas
            .Where(r => r.Holds && r.Version == file.Version
                && referee.CanRead(r.Service, file.Folder) && referee.Accepts(r.Service, file.Folder, file.Path, file.Size, file.MimeType))
            .OrderByDescending(r => r.Service == file.Origin)
            .ToList();
        if (holders.Count == 0)
            return 0;
        var added = 0;
        foreach (var target in referee.GetTargets(holders[0].Service, file.Folder, file.Path, file.Size, file.MimeType))
        {
            if (replicas.Exists(r => r.Service == target && r.Holds && r.Version == file.Version) || tx.GetJob(file.Fid, target) is not null)
                continue;
            tx.PutJob(file.Fid, target, JobKind.Upload, file.Version);
            outcome.TouchedJobs.Add((file.Fid, target));
            added++;
        }
        return added;
    }
}
