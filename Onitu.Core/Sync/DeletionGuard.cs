using System.Globalization;
using Onitu.Rules;

namespace Onitu.Sync;

/// <summary>
/// Holds back the deletions a service's startup scan reports until the scan is over, then lets them through only if
/// they stay within the folder's <see cref="DeletionLimit"/>: an empty mount point or a directory emptied by mistake
/// reads, file by file, exactly like a user deleting everything, and must not empty every other service. A refused
/// scan deletes nothing anywhere and fails its service with the counts and how to confirm.
/// </summary>
internal sealed class DeletionGuard(SyncCoordinator coordinator, string service)
{
    private readonly Lock _lock = new();
    private List<Onitu.Metadata>? _held;

    /// <summary>From now until <see cref="ReleaseAsync"/> or <see cref="Abandon"/>, deletions are held back.</summary>
    public void Begin()
    {
        lock (_lock)
            _held = [];
    }

    /// <summary>Holds <paramref name="deleted"/> back if a scan is running; false when it should be applied now.</summary>
    public bool TryHold(Onitu.Metadata deleted)
    {
        lock (_lock)
        {
            if (_held is null)
                return false;
            _held.Add(deleted);
            return true;
        }
    }

    /// <summary>The scan failed: what it found is forgotten (the next scan finds it again).</summary>
    public void Abandon()
    {
        lock (_lock)
            _held = null;
    }

    /// <summary>
    /// The scan completed: applies the held deletions of every folder within its limit.
    /// </summary>
    /// <exception cref="ServiceException">Some folder's deletions exceed its limit; they were not applied.</exception>
    public async Task ReleaseAsync(Func<Onitu.Metadata, CancellationToken, ValueTask> apply, CancellationToken cancellationToken)
    {
        List<Onitu.Metadata> held;
        lock (_lock)
        {
            held = _held ?? [];
            _held = null;
        }
        var refusals = new List<string>();
        foreach (var folder in held.GroupBy(m => m.Folder, StringComparer.Ordinal))
        {
            var deleted = folder.Count();
            var holding = CountHeld(folder.Key);
            var limit = coordinator.Options.MaxDelete ?? coordinator.Referee.GetRules(service, folder.Key)?.MaxDelete ?? DeletionLimit.Default;
            // A service Onitu does not read from (a mirror) propagates no deletion: its lost files are sent back.
            var propagates = coordinator.Referee.CanRead(service, folder.Key);
            if (propagates && !coordinator.Options.Force && limit.IsExceeded(deleted, holding))
            {
                refusals.Add(string.Create(CultureInfo.InvariantCulture,
                    $"folder '{folder.Key}': the scan found {deleted} of its {holding} files deleted, more than max-delete {limit}"));
                continue;
            }
            foreach (var metadata in folder)
                await apply(metadata, cancellationToken).ConfigureAwait(false);
        }
        if (refusals.Count > 0)
        {
            throw new ServiceException(
                $"Service '{service}': {string.Join("; ", refusals)}. Nothing of it was deleted anywhere. If a disk is not mounted, " +
                "mount it; if the deletions are intended, confirm them once with 'onitu sync --force' (or raise max-delete for the folder).",
                isTransient: false);
        }
    }

    private long CountHeld(string folder) => coordinator.Store.Queries.HeldIn(service, folder);
}
