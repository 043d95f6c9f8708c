using System.Security.Cryptography;
using System.Text;
using Onitu.Setup;
using Onitu.Storage;

namespace Onitu.Engine;

/// <summary>
/// Brings the persisted work in line with the setup when the setup changed since the database last ran: a service
/// added, a folder newly mapped, a rule relaxed (a pattern removed from a blacklist, a size bound raised). Files the
/// engine already knows are not reported again by any scan, so without this pass such a service would never receive
/// them. For every known file, each service the Referee now sends it to that neither holds its current version nor
/// has a job for it gets an upload job. The pass runs only when the setup's fingerprint changed, so an unchanged
/// restart costs one lookup.
/// </summary>
internal sealed class StartupReconciler(SyncCoordinator coordinator, OnituSetup setup)
{
    private const string FingerprintKey = "setup-fingerprint";
    private const int BatchSize = 500;

    /// <summary>Creates the missing jobs, if the setup changed; returns how many.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var fingerprint = Fingerprint(setup);
        var recorded = coordinator.Store.QueryScalar<string>("SELECT value FROM meta WHERE key = $key", p => p.AddWithValue("$key", FingerprintKey));
        if (recorded == fingerprint)
            return 0;

        var created = 0;
        var batch = new List<(Guid Fid, string Target, long Version)>(BatchSize);
        await foreach (var (file, holders, jobs) in coordinator.Store.QueryAsync(
            """
            SELECT f.fid, f.folder, f.path, f.size, f.mime, f.version,
                   (SELECT group_concat(r.service, char(31)) FROM replicas r
                     WHERE r.fid = f.fid AND r.version = f.version AND r.revision IS NOT NULL),
                   (SELECT group_concat(j.target, char(31)) FROM jobs j WHERE j.fid = f.fid)
            FROM files f WHERE f.deleted = 0
            """,
            _ => { },
            r => (
                File: (Fid: Guid.Parse(r.GetString(0)), Folder: r.GetString(1), Path: r.GetString(2), Size: r.GetInt64(3), Mime: r.GetString(4), Version: r.GetInt64(5)),
                Holders: r.IsDBNull(6) ? [] : r.GetString(6).Split('\u001f'),
                Jobs: r.IsDBNull(7) ? [] : r.GetString(7).Split('\u001f')),
            cancellationToken).ConfigureAwait(false))
        {
            if (holders.Length == 0)
                continue;
            var due = new HashSet<string>(StringComparer.Ordinal);
            foreach (var holder in holders)
            {
                foreach (var target in coordinator.Referee.GetTargets(holder, file.Folder, file.Path, file.Size, file.Mime))
                    due.Add(target);
            }
            due.ExceptWith(holders);
            due.ExceptWith(jobs);
            foreach (var target in due)
                batch.Add((file.Fid, target, file.Version));
            if (batch.Count >= BatchSize)
                created += await FlushAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        created += await FlushAsync(batch, cancellationToken).ConfigureAwait(false);
        await coordinator.Store.WriteAsync(tx => tx.SetMeta(FingerprintKey, fingerprint), cancellationToken).ConfigureAwait(false);
        if (created > 0)
            Diagnostics.Log.ReconciledOnStart(coordinator.Logger, created);
        return created;
    }

    private async Task<int> FlushAsync(List<(Guid Fid, string Target, long Version)> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
            return 0;
        var jobs = batch.ToArray();
        batch.Clear();
        var created = 0;
        var outcome = await coordinator.Store.WriteAsync(tx =>
        {
            var result = new ChangeOutcome();
            foreach (var (fid, target, version) in jobs)
            {
                // Only where nothing changed since the listing.
                var current = tx.GetFile(fid) is { Deleted: false } file && file.Version == version;
                var held = tx.GetReplica(fid, target) is { Holds: true } replica && replica.Version == version;
                if (current && !held && tx.GetJob(fid, target) is null)
                {
                    tx.PutJob(fid, target, JobKind.Upload, version);
                    result.CreatedJobs = true;
                    created++;
                }
            }
            return result;
        }, cancellationToken).ConfigureAwait(false);
        coordinator.AfterCommit(outcome);
        return created;
    }

    /// <summary>What of the setup decides where files go: folders, their rules, services and their mappings.</summary>
    internal static string Fingerprint(OnituSetup setup)
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
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
