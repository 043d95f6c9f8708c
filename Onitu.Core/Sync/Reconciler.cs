using System.Security.Cryptography;
using System.Text;
using Onitu.Rules;
using Onitu.Setup;
using Onitu.State;

namespace Onitu.Sync;

/// <summary>
/// Brings the persisted work in line with the rules when they changed: a service added, a folder newly mapped, a rule
/// relaxed (a pattern removed from a blacklist, a size bound raised). Files the engine already knows are not reported
/// again by any scan, so without this pass such a service would never receive them. Every known file is walked, a
/// batch at a time in fid order (never all in memory), and each service the rules now send it to that neither holds
/// its current version nor has a job for it gets an upload. Rules that stop matching delete nothing: a refused file
/// is "never read from or written to", not removed.
/// </summary>
/// <remarks>
/// It runs at every start whose setup differs from the one the database last ran with (a fingerprint of folders,
/// rules and mappings, kept in the database), so an unchanged restart costs one lookup; and after a rule reload.
/// </remarks>
internal static class Reconciler
{
    private const string FingerprintKey = "setup-fingerprint";
    private const string FingerprintPrefix = "setup v1\n";
    private const int BatchSize = 500;

    /// <summary>At a start: reconciles if the setup changed since the database last ran; returns how many jobs were added.</summary>
    public static async Task<long> RunIfChangedAsync(SyncCoordinator coordinator, OnituSetup setup, CancellationToken cancellationToken)
    {
        var fingerprint = Fingerprint(setup);
        var stored = coordinator.Store.GetMeta(FingerprintKey);
        if (stored == fingerprint)
            return 0;
        if (stored is not null && !stored.StartsWith(FingerprintPrefix, StringComparison.Ordinal) && stored == LegacyFingerprint(setup))
        {
            // The same setup, fingerprinted by an earlier version: nothing to reconcile, only the new form to keep.
            await RecordAsync(coordinator, setup, cancellationToken).ConfigureAwait(false);
            return 0;
        }
        var added = await RunAsync(coordinator, coordinator.Referee, cancellationToken).ConfigureAwait(false);
        await RecordAsync(coordinator, setup, cancellationToken).ConfigureAwait(false);
        if (added > 0)
            Diagnostics.Log.ReconciledOnStart(coordinator.Logger, added);
        return added;
    }

    /// <summary>Remembers <paramref name="setup"/> as the one the database's work matches (after a reload, say).</summary>
    public static Task RecordAsync(SyncCoordinator coordinator, OnituSetup setup, CancellationToken cancellationToken) =>
        coordinator.Store.WriteAsync(tx => tx.SetMeta(FingerprintKey, Fingerprint(setup)), cancellationToken);

    /// <summary>Walks every known file and adds the uploads <paramref name="referee"/> asks for; returns how many.</summary>
    public static async Task<long> RunAsync(SyncCoordinator coordinator, Referee referee, CancellationToken cancellationToken)
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

    private static int AddMissingUploads(StoreTransaction tx, Referee referee, FileRecord snapshot, ChangeOutcome outcome)
    {
        // Re-read inside the write: the file may have changed since the batch was read.
        var file = tx.GetFile(snapshot.Fid);
        if (file is null || file.Deleted)
            return 0;
        var replicas = tx.GetReplicas(file.Fid);
        var due = new HashSet<string>(StringComparer.Ordinal);
        // Every holder's rules count: a file one source may not send may still come from another.
        foreach (var holder in replicas.Where(r => r.Holds && r.Version == file.Version))
            due.UnionWith(referee.GetTargets(holder.Service, file.Folder, file.Path, file.Size, file.MimeType));
        var added = 0;
        foreach (var target in due)
        {
            if (replicas.Exists(r => r.Service == target && r.Holds && r.Version == file.Version) || tx.GetJob(file.Fid, target) is not null)
                continue;
            tx.PutJob(file.Fid, target, JobKind.Upload, file.Version);
            outcome.TouchedJobs.Add((file.Fid, target));
            added++;
        }
        return added;
    }

    /// <summary>What of the setup decides where files go: folders, their rules, services and their mappings.</summary>
    /// <remarks>
    /// The text itself, compared exactly: a hash saves a few hundred bytes of the database, but SHA-256 loads OpenSSL
    /// at every start on Linux (a few milliseconds and about 4 MB), and XxHash128's vectorised code is compiled at run
    /// time.
    /// </remarks>
    internal static string Fingerprint(OnituSetup setup) => FingerprintPrefix + FingerprintText(setup);

    /// <summary>The fingerprint earlier versions kept (SHA-256 of the same text), read once after an upgrade.</summary>
    private static string LegacyFingerprint(OnituSetup setup) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(FingerprintText(setup))));

    internal static string FingerprintText(OnituSetup setup)
    {
        var text = new StringBuilder();
        foreach (var (folder, rules) in setup.Folders)
            text.Append("folder ").Append(folder).Append(' ').Append(rules).Append('\n');
        foreach (var service in setup.Services)
        {
            text.Append("service ").Append(service.Name).Append(' ').Append(service.Driver).Append('\n');
            foreach (var mapped in service.Folders)
                text.Append("  ").Append(mapped.Folder).Append(' ').Append(mapped.Path).Append(' ').Append(mapped.Rules).Append('\n');
        }
        return text.ToString();
    }
}
