using System.Threading.Channels;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The one loop that turns change notifications into reports to the plug. Notifications are coalesced until the
/// disk has been quiet for the debounce time, then each path is judged by what the disk and the engine say
/// <em>now</em> rather than by the events themselves (which may be stale, partial or lost).
/// </summary>
internal sealed class WatchReporter(IPlug plug, ChangeMonitor monitor, FolderScanner scanner, OwnChanges ownChanges, TimeSpan debounce)
{
    // Continuous activity (a file written for minutes) must still be reported now and then.
    private readonly TimeSpan _maxWindow = TimeSpan.FromMilliseconds(Math.Max(debounce.TotalMilliseconds * 20, 250));
    private const int MaxBatch = 16_384;

    /// <summary>Processes notifications until cancelled or until the monitor is disposed.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await CollectAsync(cancellationToken).ConfigureAwait(false) is { } batch)
            await ProcessAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ChangeBatch?> CollectAsync(CancellationToken cancellationToken)
    {
        var events = monitor.Events;
        if (!await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            return null;
        var batch = new ChangeBatch();
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            while (batch.Count < MaxBatch && events.TryRead(out var change))
                batch.Add(change);
            var quiet = Min(debounce, _maxWindow - TimeProvider.System.GetElapsedTime(started));
            if (batch.Count >= MaxBatch || quiet <= TimeSpan.Zero)
                return batch;
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(quiet);
            try
            {
                if (!await events.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                    return batch;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return batch; // quiet for the debounce time
            }
        }
    }

    private async Task ProcessAsync(ChangeBatch batch, CancellationToken cancellationToken)
    {
        // A folder lost (its directory gone, replaced or unmounted, or its marker gone: found by the sentinel, or now)
        // fails the watch before anything of the batch is reported: the deletions an emptied or vanished folder shows
        // are not the user's. The service is scanned again once the folder is back with its marker.
        foreach (var folder in batch.Folders)
            folder.Root.EnsureIntact();
        // Renames first: a rename must find the old path still known to the engine, before the path pass would
        // report it deleted.
        foreach (var (folder, oldPath, newPath) in batch.Renames)
            await GuardAsync(folder, newPath, () => RenamedAsync(batch, folder, oldPath, newPath, cancellationToken)).ConfigureAwait(false);
        foreach (var ((folder, path), created) in batch.Paths)
            await GuardAsync(folder, path, () => PathChangedAsync(batch, folder, path, created, cancellationToken)).ConfigureAwait(false);
        foreach (var (folder, fullPath) in batch.Unsynced)
            await GuardAsync(folder, fullPath, () => scanner.ReportUnsyncedAsync(folder, fullPath, cancellationToken)).ConfigureAwait(false);
        foreach (var folder in batch.Rescans.Union(monitor.TakeRescanRequests()))
            await scanner.ScanAsync(folder, directory: null, cancellationToken).ConfigureAwait(false);
    }

    // A path that cannot be looked at (permissions, a race with its deletion) is skipped with a warning; the next
    // scan sees it. Plug and cancellation errors end the loop: watching restarts with a rescan.
    private async Task GuardAsync(StorageFolder folder, string path, Func<Task> handle)
    {
        try
        {
            await handle().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.ChangeNotExamined(plug.Logger, Path.Join(folder.Directory, path), e);
        }
    }

    private async Task PathChangedAsync(ChangeBatch batch, StorageFolder folder, string path, bool created, CancellationToken cancellationToken)
    {
        var fullPath = folder.GetFullPath(path);
        if (FileState.TryRead(fullPath) is { } state)
        {
            if (!ownChanges.IsOwn(fullPath, state.Revision))
                await ReportUpdateAsync(batch, folder, path, fullPath, state, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (Paths.IsLink(fullPath))
            await plug.ReportSkippedAsync(folder.Name, path, FolderScanner.LinkReason, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(fullPath))
        {
            // A directory that appeared (created, or moved in from outside): files may have landed in it before the
            // watcher covered it, so list it whole.
            if (created && !Paths.IsLink(fullPath))
                await scanner.ScanAsync(folder, path, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Gone. A vanished, replaced or unmarked folder root must not read as a mass deletion.
        folder.Root.EnsureIntact();
        if (ownChanges.IsOwn(fullPath, null))
            return; // a file the driver itself deleted or moved away
        var known = await plug.GetMetadataAsync(folder.Name, path, cancellationToken).ConfigureAwait(false);
        if (known.Revision is not null)
        {
            await plug.DeleteFileAsync(known, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Not a known file: perhaps a directory, and whatever the engine knows under it is gone too.
        await scanner.ScanAsync(folder, path, cancellationToken).ConfigureAwait(false);
    }

    private async Task RenamedAsync(ChangeBatch batch, StorageFolder folder, string oldPath, string newPath, CancellationToken cancellationToken)
    {
        var newFullPath = folder.GetFullPath(newPath);
        if (FileState.TryRead(newFullPath) is { } state)
        {
            var known = ownChanges.IsOwn(newFullPath, state.Revision) ? null : await plug.GetMetadataAsync(folder.Name, oldPath, cancellationToken).ConfigureAwait(false);
            if (known?.Revision is null)
            {
                // The driver's own move, or a file the engine did not know by its old name: look at both names
                // like any other change.
                batch.MarkPath(folder, oldPath);
                batch.MarkPath(folder, newPath);
                return;
            }
            await plug.MoveFileAsync(known, state.ToMetadata(folder.Name, newPath), cancellationToken).ConfigureAwait(false);
            batch.Reported[newFullPath] = state.Revision;
            return;
        }
        if (Paths.IsRealDirectory(newFullPath))
        {
            await DirectoryRenamedAsync(batch, folder, oldPath, newPath, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Renamed again (or deleted) since: the path pass settles both names from what is there now.
        batch.MarkPath(folder, oldPath);
        batch.MarkPath(folder, newPath);
    }

    private async Task DirectoryRenamedAsync(ChangeBatch batch, StorageFolder folder, string oldPath, string newPath, CancellationToken cancellationToken)
    {
        // Listed first, moved after: the engine's listing must not change under its own enumeration.
        var known = new List<Metadata>();
        await foreach (var metadata in plug.ListFilesAsync(folder.Name, oldPath, cancellationToken).ConfigureAwait(false))
        {
            if (metadata.Path.Length > oldPath.Length && FilePath.IsUnder(metadata.Path, oldPath))
                known.Add(metadata);
        }
        foreach (var source in known)
        {
            var destinationPath = newPath + source.Path[oldPath.Length..];
            var fullPath = folder.GetFullPath(destinationPath);
            if (FileState.TryRead(fullPath) is { } state)
            {
                await plug.MoveFileAsync(source, state.ToMetadata(folder.Name, destinationPath), cancellationToken).ConfigureAwait(false);
                batch.Reported[fullPath] = state.Revision;
            }
            else
            {
                batch.MarkPath(folder, source.Path); // gone since the rename: reported deleted by the path pass
            }
        }
        // Files the engine did not know under the old name (or that landed there since) are new.
        await scanner.ScanAsync(folder, newPath, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReportUpdateAsync(ChangeBatch batch, StorageFolder folder, string path, string fullPath, FileState state, CancellationToken cancellationToken)
    {
        if (batch.Reported.TryGetValue(fullPath, out var reported) && reported == state.Revision)
            return;
        await plug.UpdateFileAsync(state.ToMetadata(folder.Name, path), cancellationToken).ConfigureAwait(false);
        batch.Reported[fullPath] = state.Revision;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
