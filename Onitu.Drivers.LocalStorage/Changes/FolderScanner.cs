using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Compares a folder (or a directory of it) on disk with what the engine believes this service holds there, and
/// reports the difference: the startup scan, the rescan after the watcher lost events, and the catch-up for a
/// directory that appeared or vanished at once.
/// </summary>
/// <param name="plug">Where changes and skipped paths are reported.</param>
/// <param name="ownChanges">The driver's own recent changes, not reported back.</param>
/// <param name="writerId">The service's writer id once known (its temporary files are not named as skipped).</param>
/// <param name="instanceId">The driver instance's id (likewise).</param>
internal sealed class FolderScanner(IPlug plug, OwnChanges ownChanges, Func<string?> writerId, string instanceId)
{
    /// <summary>
    /// Makes sure the folder's directory exists before a scan: creates it when the engine knows no file there (a first
    /// pairing: the one place besides the engine's marker where a folder's directory is made), refuses when it does,
    /// since a vanished root (an unmounted disk) must never read as "everything was deleted". The directory found is
    /// remembered (<see cref="FolderRoot.Found"/>): until the next scan, another one in its place, or the marker it
    /// held gone, is the folder lost.
    /// </summary>
    /// <exception cref="FolderMissingException">The directory is missing while the engine knows files in it (transient).</exception>
    /// <returns>Whether the directory exists now (a dry run creates nothing: a missing, empty folder has nothing to scan).</returns>
    public async Task<bool> PrepareAsync(StorageFolder folder, CancellationToken cancellationToken)
    {
        if (Directory.Exists(folder.Directory))
        {
            folder.Root.Found();
            return true;
        }
        var known = plug.ListFilesAsync(folder.Name, cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (known.ConfigureAwait(false))
        {
            if (await known.MoveNextAsync().ConfigureAwait(false))
                throw RootMissing(folder);
        }
        if (plug.DryRun)
            return false;
        Directory.CreateDirectory(folder.Directory);
        Log.FolderCreated(plug.Logger, folder.Name, folder.Directory);
        folder.Root.Found();
        return true;
    }

    /// <summary>
    /// Reports every file under <paramref name="directory"/> (the whole folder when null) that is new or changed
    /// on disk, then every file the engine knows there that is gone. Returns how many of each were reported.
    /// </summary>
    public async Task<(int Updated, int Deleted)> ScanAsync(StorageFolder folder, string? directory, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var start = directory is null ? folder.Directory : folder.GetFullPath(directory);
        if (directory is null)
            folder.Root.EnsureIntact();

        // The engine's listing and the walk of the disk are both in path order and merged as they go: memory does
        // not grow with the number of files (only with what is missing from the disk, checked after the walk).
        var known = plug.ListFilesAsync(folder.Name, directory, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var disposeKnown = known.ConfigureAwait(false);
        var missing = new List<Metadata>();
        var knownLeft = true;
        async ValueTask<Metadata?> NextKnownAsync()
        {
            while (knownLeft && (knownLeft = await known.MoveNextAsync().ConfigureAwait(false)))
            {
                var metadata = known.Current;
                if (directory is null || (metadata.Path.Length > directory.Length && FilePath.IsUnder(metadata.Path, directory)))
                    return metadata;
            }
            return null;
        }
        var nextKnown = await NextKnownAsync().ConfigureAwait(false);

        var updated = 0;
        // Reports are pipelined, a window of them in flight at once: the engine commits the reports that queue up
        // together, so a scan of thousands of files costs a few transactions instead of one per file.
        var reports = new ReportWindow();
        // A link to a directory is not followed (it could loop, or lead out of the folder).
        var entries = directory is null || Paths.IsRealDirectory(start) ? DiskWalker.EnumerateSorted(folder, start) : [];
        foreach (var (fullPath, stat) in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!folder.TryGetRelativePath(fullPath, out var path))
            {
                Log.UnrepresentableName(plug.Logger, fullPath);
                await reports.AddAsync(plug.ReportSkippedAsync(folder.Name, folder.RawRelativePath(fullPath), UnrepresentableReason, cancellationToken)).ConfigureAwait(false);
                continue;
            }
            if (SkipReason(path, fullPath, stat) is { } reason)
            {
                if (reason.Length > 0)
                    await reports.AddAsync(plug.ReportSkippedAsync(folder.Name, path, reason, cancellationToken)).ConfigureAwait(false);
                continue;
            }
            // Known files before this path were not met on the disk (or are not regular files any more). Given a
            // listing in another order, a file merely looks new (reporting a known revision again is harmless) and
            // a known one looks missing until it is looked at after the walk: slower, never wrong.
            Metadata? previous = null;
            while (nextKnown is not null)
            {
                var order = DiskWalker.CompareByCodePoint(nextKnown.Path, path);
                if (order > 0)
                    break;
                if (order == 0)
                    previous = nextKnown;
                else
                    missing.Add(nextKnown);
                nextKnown = await NextKnownAsync().ConfigureAwait(false);
                if (order == 0)
                    break;
            }
            var state = FileState.From(stat)!.Value;
            if (state.Matches(previous?.Revision) || ownChanges.IsOwn(fullPath, state.Revision))
                continue;
            await reports.AddAsync(plug.UpdateFileAsync(state.ToMetadata(folder.Name, path), cancellationToken)).ConfigureAwait(false);
            updated++;
        }
        await reports.DrainAsync().ConfigureAwait(false);
        for (; nextKnown is not null; nextKnown = await NextKnownAsync().ConfigureAwait(false))
            missing.Add(nextKnown);

        var deleted = 0;
        if (missing.Count > 0)
        {
            // Checked again after the walk: a root unmounted, replaced or without its marker since it was listed must not
            // read as a mass deletion.
            folder.Root.EnsureIntact();
            foreach (var metadata in missing)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var fullPath = folder.GetFullPath(metadata.Path);
                var state = FileState.TryRead(fullPath);
                // A file that appeared after the walk passed its directory is the watcher's to report.
                if (state is not null || ownChanges.IsOwn(fullPath, null))
                    continue;
                await reports.AddAsync(plug.DeleteFileAsync(metadata, cancellationToken)).ConfigureAwait(false);
                deleted++;
            }
            await reports.DrainAsync().ConfigureAwait(false);
        }

        if (directory is null)
            Log.FolderScanned(plug.Logger, folder.Name, folder.Directory, updated, deleted, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return (updated, deleted);
    }

    private const string Prefix = ".onitu-";

    /// <summary>
    /// Names an entry the watcher saw that is not to be synced (a look-alike of a temporary file, a name Onitu cannot
    /// carry), as a scan would; nothing when it is gone again or is this driver's own temporary file.
    /// </summary>
    public async Task ReportUnsyncedAsync(StorageFolder folder, string fullPath, CancellationToken cancellationToken)
    {
        var stat = NativeStat.LStat(fullPath);
        if (stat.Kind is EntryKind.Missing or EntryKind.Directory)
            return;
        if (!folder.TryGetRelativePath(fullPath, out var path))
        {
            await plug.ReportSkippedAsync(folder.Name, folder.RawRelativePath(fullPath), UnrepresentableReason, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (SkipReason(path, fullPath, stat) is { Length: > 0 } reason)
            await plug.ReportSkippedAsync(folder.Name, path, reason, cancellationToken).ConfigureAwait(false);
    }

    private const string UnrepresentableReason =
        "the name cannot be carried as an Onitu path (a backslash in a name, or a name that normalizing would change)";

    /// <summary>Why a symbolic link is skipped.</summary>
    public const string LinkReason = "a symbolic link: Onitu does not follow links, nor sync them";

    /// <summary>
    /// Why an entry a scan met is not synced: null for a regular file to sync, empty for one to pass over in silence
    /// (this driver's own temporary file, an entry that vanished), else the reason to report it skipped.
    /// </summary>
    private string? SkipReason(string path, string fullPath, EntryStat stat)
    {
        var name = Path.GetFileName(fullPath.AsSpan());
        if (TempFiles.IsTempName(name))
        {
            if (IsOwnTemp(name))
                return "";
            // An earlier version's leftover (or another engine's) that no upload can use any more goes.
            if (!plug.DryRun && Leftovers.IsStale(TempFiles.Parse(name[Prefix.Length..])!, new DateTime(stat.MtimeTicks, DateTimeKind.Utc), writerId(), instanceId)
                && Leftovers.TryRemove(fullPath, plug.Logger))
            {
                Log.LeftoverRemoved(plug.Logger, fullPath);
                return "";
            }
            return "named like a temporary file of Onitu (.onitu-<id>.part): not synced; one Onitu left behind is removed once stale";
        }
        return stat.Kind switch
        {
            EntryKind.Missing => "",
            EntryKind.Link => LinkReason,
            EntryKind.File when path == TempFiles.StagingDirectoryName => "the name is reserved for Onitu's staging directory at a folder's root",
            EntryKind.File => null,
            _ => "not a regular file (a device, pipe or socket)",
        };
    }

    // A temporary file beside its target (a target on another file system) that this service made.
    private bool IsOwnTemp(ReadOnlySpan<char> name)
    {
        var parsed = TempFiles.Parse(name[Prefix.Length..]);
        return parsed?.FirstId is { } id && (parsed.Whole ? id == instanceId : id == writerId());
    }

    /// <summary>The error for a folder whose directory vanished while the engine knows files in it.</summary>
    public static FolderMissingException RootMissing(StorageFolder folder) =>
        new($"The directory of folder '{folder.Name}' ({folder.Directory}) is missing although this service holds files in it; " +
            "is a disk unmounted? Nothing is reported deleted until it is back.");
}
