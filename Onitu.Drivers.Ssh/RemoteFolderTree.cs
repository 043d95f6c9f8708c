using System.Collections.Concurrent;
using System.Diagnostics;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// One folder's remote directory tree as it was last listed, and the poll that finds what changed since without
/// listing the whole tree again.
/// </summary>
/// <remarks>
/// <para>
/// A directory's mtime changes whenever an entry is added, removed or renamed in it, so a poll first stats every
/// known directory (one small request each, all in flight together) and lists only those whose mtime moved. Two
/// things a directory's mtime does not show are covered as well:
/// </para>
/// <list type="bullet">
/// <item>SFTP v3 times have a one-second resolution: an entry added in the same second as the listing leaves the
/// mtime unchanged. A listing counts as settled only when it was taken at least <see cref="SettleTime"/> after its
/// mtime was first seen; until then the directory is listed again at every poll.</item>
/// <item>A file rewritten in place changes no directory. Directories where a change was seen recently are listed
/// at every poll (edits come in bursts), and every other directory is listed again within the rescan interval,
/// spread evenly over the polls.</item>
/// </list>
/// <para>
/// A directory the login user may not list (permission denied) is kept in the tree as unlisted: reported skipped,
/// its files (if any were known) neither reported removed nor changed, and listed again at every refresh until it
/// can be. Entry names that could leave the folder (<c>..</c>, a name with a slash) are skipped and reported, and so
/// are symbolic links (never followed) and special files. A known directory replaced by a link is kept as it was
/// known, neither listed nor taken for removed, while the link is there: its files are out of sight, not gone.
/// </para>
/// <para>
/// With <see cref="MarkerMissing"/> set, the folder's marker is looked for at every load and refresh (an LSTAT with
/// the directories', and in the root's listing): once seen, its absence fails the refresh before anything is reported.
/// </para>
/// <para>Not thread-safe: one poll at a time.</para>
/// </remarks>
internal sealed class RemoteFolderTree
{
    /// <summary>How long after its mtime was first seen a directory's listing is trusted to be complete.</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1.5);

    private const int MaxConcurrentRequests = 32;

    private readonly string _root;
    private readonly Dictionary<string, DirectoryState> _directories = new(StringComparer.Ordinal);
    private double _rescanCredit;

    /// <param name="root">The folder's absolute directory on the server.</param>
    public RemoteFolderTree(string root) => _root = root;

    /// <summary>Whether the tree was listed once.</summary>
    public bool IsLoaded => _directories.Count > 0;

    /// <summary>How many directories the tree holds.</summary>
    public int DirectoryCount => _directories.Count;

    /// <summary>How many directories the last load or refresh listed.</summary>
    public int LastListedCount { get; private set; }

    /// <summary>Which file names are skipped: the driver's temporary files (a user's file is never hidden by its name alone).</summary>
    public required Func<string, bool> IsHidden { get; init; }

    private sealed class DirectoryState
    {
        /// <summary>The directory's mtime, observed before its listing; null when the listing must be redone.</summary>
        public uint? ModifiedTime;

        /// <summary>When <see cref="ModifiedTime"/> was first seen (Stopwatch timestamp).</summary>
        public long ModifiedTimeSeenAt;

        /// <summary>When the directory was last listed (Stopwatch timestamp).</summary>
        public long ListedAt;

        /// <summary>When a listing last found a difference (Stopwatch timestamp).</summary>
        public long ChangedAt = long.MinValue / 2;

        /// <summary>Why the directory could not be listed (its contents are as last known), or null.</summary>
        public string? Unlisted;

        public readonly Dictionary<string, SftpAttributes> Files = new(StringComparer.Ordinal);
        public readonly HashSet<string> Directories = new(StringComparer.Ordinal);

        /// <summary>Files the receiver skipped (unreadable): offered again at every refresh, so listed every time.</summary>
        public readonly HashSet<string> Retry = new(StringComparer.Ordinal);
    }

    /// <summary>A temporary file of the driver seen while listing.</summary>
    public sealed record HiddenEntry(string Path, SftpAttributes Attributes);

    /// <summary>A path not synced: a directory that cannot be listed, a name the folder cannot hold, a symbolic link or a special file.</summary>
    /// <param name="Path">The path, relative to the folder.</param>
    /// <param name="Reason">Why it is not synced, for a person to read.</param>
    /// <param name="HidesSubtree">
    /// Whether what the engine knows below it is out of sight rather than gone (a directory that cannot be listed, a
    /// link where a directory may have been): not reported removed.
    /// </param>
    public sealed record SkippedEntry(string Path, string Reason, bool HidesSubtree);

    /// <summary>Why a symbolic link is not synced (the local driver's words).</summary>
    public const string LinkReason = "a symbolic link: Onitu does not follow links, nor sync them";

    /// <summary>Why a device, pipe or socket is not synced (the local driver's words).</summary>
    public const string SpecialReason = "not a regular file (a device, pipe or socket)";

    /// <summary>
    /// Fails a load or refresh that finds the folder's marker (<see cref="FolderMarker.FileName"/>) gone after it was
    /// seen (see <see cref="MarkerSeen"/>), before anything is reported; null checks nothing.
    /// </summary>
    public Func<Exception>? MarkerMissing { get; init; }

    /// <summary>
    /// Whether the folder's marker was seen at its root (by this tree, or by an earlier one of the same folder): from
    /// then on a listing without it is not the folder any more (an unmounted disk's empty mount point, a directory
    /// swapped for an empty one) and fails with <see cref="MarkerMissing"/>, reporting nothing.
    /// </summary>
    public bool MarkerSeen { get; set; }

    /// <summary>Where a refresh reports what it found.</summary>
    public sealed class Receiver
    {
        /// <summary>A new or changed file; false when the receiver skipped it (it is offered again at later listings).</summary>
        public required Func<string, SftpAttributes, ValueTask<bool>> Changed { get; init; }

        /// <summary>A file gone.</summary>
        public required Func<string, ValueTask> Removed { get; init; }

        /// <summary>A file renamed (old path, new path, attributes); null reports renames as a creation plus a removal.</summary>
        public Func<string, string, SftpAttributes, ValueTask>? Moved { get; init; }

        /// <summary>A path skipped (see <see cref="SkippedEntry"/>).</summary>
        public Func<SkippedEntry, ValueTask>? Skipped { get; init; }
    }

    /// <summary>What a listing of one directory gave: its entries, or why it could not be listed; null when gone.</summary>
    private sealed record Listing(IReadOnlyList<SftpDirectoryEntry>? Entries, string? Denied);

    /// <summary>Whether a name can be a path segment of the folder.</summary>
    internal static bool IsValidName(string name) =>
        name.Length > 0 && name is not ("." or "..") && !name.Contains('/', StringComparison.Ordinal) && !name.Contains('\0', StringComparison.Ordinal);

    // ---- Loading ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Lists the whole tree, replacing what was known. Returns every file by relative path, the hidden (temporary)
    /// files seen and the paths skipped, or <see langword="null"/> when the folder's directory does not exist.
    /// </summary>
    /// <exception cref="SftpStatusException">The folder's directory itself cannot be listed.</exception>
    public async Task<(Dictionary<string, SftpAttributes> Files, List<HiddenEntry> Hidden, List<SkippedEntry> Skipped)?> LoadAsync(SftpClient client, CancellationToken cancellationToken)
    {
        SftpAttributes rootAttributes;
        try
        {
            rootAttributes = await client.StatAsync(_root, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
        if (!rootAttributes.IsDirectory)
            throw new ServiceException($"{_root} exists on the server and is not a directory.", isTransient: false);

        var hidden = new List<HiddenEntry>();
        var skipped = new List<SkippedEntry>();
        var loaded = await ListSubtreeAsync(client, "", rootAttributes.ModifiedTime, hidden, skipped, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"{_root} disappeared while it was listed.");
        if (loaded[""].Unlisted is { } denied)
            throw new SftpStatusException(SftpStatusCode.PermissionDenied, $"The folder's directory {_root} cannot be listed: {denied}", isTransient: false);
        CheckMarker(loaded[""].Files.ContainsKey(FolderMarker.FileName));
        _directories.Clear();
        var files = new Dictionary<string, SftpAttributes>(StringComparer.Ordinal);
        foreach (var (path, state) in loaded)
        {
            _directories[path] = state;
            foreach (var (name, attributes) in state.Files) files[Join(path, name)] = attributes;
        }
        LastListedCount = loaded.Count;
        return (files, hidden, skipped);
    }

    // Lists a directory and everything below it, level by level with many listings in flight. Null when the
    // directory itself is gone; subdirectories that vanish meanwhile are left out.
    private async Task<Dictionary<string, DirectoryState>?> ListSubtreeAsync(SftpClient client, string top, uint? topModifiedTime,
        List<HiddenEntry>? hidden, List<SkippedEntry> skipped, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, DirectoryState>(StringComparer.Ordinal);
        var level = new List<(string Path, uint? ModifiedTime)> { (top, topModifiedTime) };
        while (level.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            var listings = await ListManyAsync(client, level.Select(d => d.Path), cancellationToken).ConfigureAwait(false);
            var next = new List<(string, uint?)>();
            foreach (var (path, modifiedTime) in level)
            {
                if (listings[path] is not { } listing)
                {
                    // Gone between its parent's listing and its own: not part of the tree.
                    if (path == top) return null;
                    result[ParentOf(path)].Directories.Remove(NameOf(path));
                    continue;
                }
                if (listing.Entries is not { } entries)
                {
                    // Kept as unlisted: listed again at every refresh, its files never taken for removed.
                    result[path] = new DirectoryState { Unlisted = listing.Denied, ModifiedTimeSeenAt = started, ListedAt = started };
                    skipped.Add(new SkippedEntry(path, listing.Denied!, HidesSubtree: true));
                    continue;
                }
                var state = new DirectoryState { ModifiedTime = modifiedTime, ModifiedTimeSeenAt = started, ListedAt = started };
                foreach (var entry in entries)
                {
                    var child = Join(path, entry.FileName);
                    if (!IsValidName(entry.FileName))
                    {
                        skipped.Add(new SkippedEntry(child, $"the server listed the name '{entry.FileName}', which cannot be a file name in a folder", entry.Attributes.IsDirectory));
                        continue;
                    }
                    if (!entry.Attributes.IsDirectory && IsHidden(entry.FileName))
                    {
                        if (entry.Attributes.IsRegularFile) hidden?.Add(new HiddenEntry(child, entry.Attributes));
                    }
                    else if (entry.Attributes.IsDirectory)
                    {
                        state.Directories.Add(entry.FileName);
                        next.Add((child, entry.Attributes.ModifiedTime));
                    }
                    else if (entry.Attributes.IsRegularFile)
                    {
                        state.Files[entry.FileName] = entry.Attributes;
                    }
                    else if (NotSynced(child, entry.Attributes) is { } notSynced)
                    {
                        skipped.Add(notSynced);
                    }
                }
                result[path] = state;
            }
            level = next;
        }
        return result;
    }

    // ---- Refreshing -------------------------------------------------------------------------------------------

    /// <summary>Refreshes, reporting renames as a creation plus a removal (see the other overload).</summary>
    public Task RefreshAsync(SftpClient client, TimeSpan pollInterval, TimeSpan rescanInterval,
        Func<string, SftpAttributes, ValueTask> changed, Func<string, ValueTask> removed, CancellationToken cancellationToken) =>
        RefreshAsync(client, pollInterval, rescanInterval, new Receiver
        {
            Changed = async (path, attributes) =>
            {
                await changed(path, attributes).ConfigureAwait(false);
                return true;
            },
            Removed = removed,
        }, cancellationToken);

    /// <summary>
    /// Finds what changed since the last load or refresh and reports it to <paramref name="receiver"/>: renames
    /// first (a file gone and a new one of the same size and mtime, see <see cref="MoveMatcher"/>), then new or
    /// modified files, then removals — what a rename moved is always known somewhere. The tree is updated after
    /// each report, and every directory with a difference counts as unlisted until all are reported, so a failed
    /// report is found again by the next refresh.
    /// </summary>
    /// <param name="client">The session to list with.</param>
    /// <param name="pollInterval">How often refreshes run, to spread the rescan over them.</param>
    /// <param name="rescanInterval">The longest a directory goes without being listed; zero lists every directory at every poll.</param>
    /// <param name="receiver">Where differences go.</param>
    /// <param name="cancellationToken">Stops the refresh.</param>
    /// <exception cref="RemoteFileNotFoundException">The folder's directory itself is gone.</exception>
    public async Task RefreshAsync(SftpClient client, TimeSpan pollInterval, TimeSpan rescanInterval, Receiver receiver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        if (!IsLoaded) throw new InvalidOperationException("The tree must be loaded before it is refreshed.");

        // 1. Stat every known directory: a small request each, all in flight together, and the folder's marker with
        // them. One that may not be looked at (inside an unlistable directory) is neither listed nor taken for gone.
        var stats = new ConcurrentDictionary<string, SftpAttributes?>(StringComparer.Ordinal);
        var hiddenFromUs = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var marker = MarkerMissing is null ? null : client.TryLStatAsync(RemoteLayout.Join(_root, FolderMarker.FileName), cancellationToken);
        var looks = Parallel.ForEachAsync(_directories.Keys.ToList(), Throttle(cancellationToken), async (path, token) =>
        {
            try
            {
                stats[path] = await LookAtDirectoryAsync(client, path, token).ConfigureAwait(false);
            }
            // The folder's own directory denied fails the service (the exception goes on); below it, a skip.
            catch (SftpStatusException e) when (e.Code == SftpStatusCode.PermissionDenied && path.Length > 0)
            {
                hiddenFromUs[path] = true;
            }
        });
        if (marker is not null) await Task.WhenAll(looks, marker).WhenSettled().ConfigureAwait(false);
        await looks.ConfigureAwait(false);
        if (stats.GetValueOrDefault("") is not { IsDirectory: true }) throw new RemoteFileNotFoundException($"The folder's directory {_root} is gone from the server.");
        // Before anything is listed or reported: a folder whose marker is gone is not the folder any more.
        if (marker is not null) CheckMarker(await marker.ConfigureAwait(false) is { IsRegularFile: true });
        // A known directory now a symbolic link (and all below it) is out of sight: neither listed (a listing would
        // follow the link) nor taken for gone. Its parent's listing names it skipped.
        foreach (var (path, stat) in stats)
        {
            if (stat is { IsSymbolicLink: true }) hiddenFromUs[path] = true;
        }
        foreach (var path in _directories.Keys)
        {
            if (!hiddenFromUs.ContainsKey(path) && hiddenFromUs.Keys.Any(h => h.Length > 0 && path.StartsWith(h + "/", StringComparison.Ordinal)))
                hiddenFromUs[path] = true;
        }
        // Every mtime seen now existed by this moment, and the listings below start after it.
        var now = Stopwatch.GetTimestamp();

        // 2. Choose what to list: moved mtimes, unsettled listings, recent changes, unlisted directories (tried
        // again every time), then the rescan's share.
        var hotWindow = (long)(rescanInterval.TotalSeconds * Stopwatch.Frequency);
        var settle = (long)(SettleTime.TotalSeconds * Stopwatch.Frequency);
        var toList = new Dictionary<string, uint?>(StringComparer.Ordinal);
        var gone = new List<string>();
        var rest = new List<(string Path, long ListedAt)>();
        foreach (var (path, state) in _directories)
        {
            if (hiddenFromUs.ContainsKey(path)) continue;
            var stat = stats[path];
            if (stat is not { IsDirectory: true }) gone.Add(path);
            else if (rescanInterval == TimeSpan.Zero
                || state.Unlisted is not null
                || state.Retry.Count > 0
                || stat.ModifiedTime != state.ModifiedTime
                || state.ListedAt - state.ModifiedTimeSeenAt < settle
                || now - state.ChangedAt < hotWindow)
            {
                toList[path] = stat.ModifiedTime;
                if (stat.ModifiedTime != state.ModifiedTime) state.ModifiedTimeSeenAt = now;
            }
            else rest.Add((path, state.ListedAt));
        }
        if (rescanInterval > TimeSpan.Zero && rest.Count > 0)
        {
            _rescanCredit += _directories.Count * (pollInterval / rescanInterval);
            var share = (int)Math.Min(rest.Count, Math.Floor(_rescanCredit + 1e-9)); // 1e-9: rounding of the fractions
            _rescanCredit -= share;
            foreach (var (path, _) in rest.OrderBy(r => r.ListedAt).Take(share)) toList[path] = stats[path]!.ModifiedTime;
        }

        // 3. List them together and work out the differences, parents before children (a child may be gone with
        // its parent), before reporting any.
        var listings = await ListManyAsync(client, toList.Keys, cancellationToken).ConfigureAwait(false);
        LastListedCount = toList.Count;
        // The root's listing says it too, and later than the look above.
        if (listings.GetValueOrDefault("") is { Entries: { } rootEntries })
            CheckMarker(rootEntries.Any(e => e.FileName == FolderMarker.FileName && e.Attributes.IsRegularFile));
        var plan = new RefreshPlan();
        foreach (var path in toList.Keys.OrderBy(p => p.Length).ThenBy(p => p, StringComparer.Ordinal))
        {
            if (!_directories.TryGetValue(path, out var state) || plan.IsRemoved(path)) continue; // went with an ancestor
            switch (listings[path])
            {
                case null:
                    PlanRemoval(plan, path);
                    break;
                case { Entries: null, Denied: var denied }:
                    state.Unlisted = denied;
                    plan.Skipped.Add(new SkippedEntry(path, denied!, HidesSubtree: true));
                    break;
                case { Entries: { } entries }:
                    await PlanListingAsync(client, plan, path, state, toList[path], entries, now, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        foreach (var path in gone.OrderBy(p => p.Length))
        {
            if (_directories.ContainsKey(path) && !plan.IsRemoved(path)) PlanRemoval(plan, path);
        }

        // 4. Report, updating the tree as each report succeeds.
        await ReportAsync(plan, receiver).ConfigureAwait(false);
    }

    /// <summary>The differences one refresh found, before they are reported.</summary>
    private sealed class RefreshPlan
    {
        /// <summary>Files new or changed, by path, with whether the path was unknown before (a rename candidate).</summary>
        public readonly List<(string Path, SftpAttributes Attributes, bool IsNew)> Found = [];

        /// <summary>Files gone, with their last known attributes.</summary>
        public readonly List<(string Path, SftpAttributes Attributes)> Vanished = [];

        /// <summary>Directories gone, with everything below them.</summary>
        public readonly List<string> RemovedDirectories = [];

        /// <summary>Listed directories and what their listing said, applied once every difference is reported.</summary>
        public readonly List<(DirectoryState State, string Path, uint? ModifiedTime, long ListedAt, Dictionary<string, SftpAttributes> Files, HashSet<string> Directories, bool Difference, string? Unlisted)> Listed = [];

        public readonly List<SkippedEntry> Skipped = [];

        public bool IsRemoved(string path) => RemovedDirectories.Exists(d => path == d || path.StartsWith(d + "/", StringComparison.Ordinal));
    }

    private void PlanRemoval(RefreshPlan plan, string path)
    {
        var prefix = path + "/";
        foreach (var (directory, state) in _directories)
        {
            if (directory != path && !(path.Length == 0 ? directory.Length > 0 : directory.StartsWith(prefix, StringComparison.Ordinal))) continue;
            state.ModifiedTime = null;
            foreach (var (name, attributes) in state.Files) plan.Vanished.Add((Join(directory, name), attributes));
        }
        plan.RemovedDirectories.Add(path);
    }

    private async Task PlanListingAsync(SftpClient client, RefreshPlan plan, string path, DirectoryState state, uint? modifiedTime,
        IReadOnlyList<SftpDirectoryEntry> entries, long listedAt, CancellationToken cancellationToken)
    {
        var difference = state.Unlisted is not null;
        var files = new Dictionary<string, SftpAttributes>(StringComparer.Ordinal);
        var directories = new Dictionary<string, uint?>(StringComparer.Ordinal);
        var linkedDirectories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!IsValidName(entry.FileName))
            {
                plan.Skipped.Add(new SkippedEntry(Join(path, entry.FileName), $"the server listed the name '{entry.FileName}', which cannot be a file name in a folder", entry.Attributes.IsDirectory));
                continue;
            }
            if (!entry.Attributes.IsDirectory && IsHidden(entry.FileName)) continue;
            if (entry.Attributes.IsDirectory) directories[entry.FileName] = entry.Attributes.ModifiedTime;
            else if (entry.Attributes.IsRegularFile) files[entry.FileName] = entry.Attributes;
            else if (NotSynced(Join(path, entry.FileName), entry.Attributes) is { } notSynced)
            {
                plan.Skipped.Add(notSynced);
                // A known directory now a link: what the engine knows below it is out of sight, not gone (its state is
                // kept, neither listed nor taken for removed while the link is there).
                if (entry.Attributes.IsSymbolicLink && state.Directories.Contains(entry.FileName)) linkedDirectories.Add(entry.FileName);
            }
        }

        foreach (var (name, attributes) in files)
        {
            var known = state.Files.TryGetValue(name, out var previous);
            if (known && RemoteFiles.Revision(previous!) == RemoteFiles.Revision(attributes)) continue;
            plan.Found.Add((Join(path, name), attributes, !known));
            difference = true;
        }
        foreach (var (name, attributes) in state.Files)
        {
            if (files.ContainsKey(name)) continue;
            plan.Vanished.Add((Join(path, name), attributes));
            difference = true;
        }
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, childModifiedTime) in directories)
        {
            if (state.Directories.Contains(name))
            {
                kept.Add(name);
                continue;
            }
            var child = Join(path, name);
            difference = true;
            if (await ListSubtreeAsync(client, child, childModifiedTime, hidden: null, plan.Skipped, cancellationToken).ConfigureAwait(false) is not { } added)
                continue;
            foreach (var (directory, addedState) in added.OrderBy(a => a.Key.Length))
            {
                foreach (var (file, attributes) in addedState.Files) plan.Found.Add((Join(directory, file), attributes, true));
                // Registered now, its files added as they are reported: a failed report leaves it to be listed again.
                var listedFiles = new Dictionary<string, SftpAttributes>(addedState.Files, StringComparer.Ordinal);
                addedState.Files.Clear();
                var fresh = addedState.ModifiedTime;
                addedState.ModifiedTime = null;
                _directories[directory] = addedState;
                plan.Listed.Add((addedState, directory, fresh, addedState.ListedAt, listedFiles, [.. addedState.Directories], false, addedState.Unlisted));
            }
            kept.Add(name);
        }
        kept.UnionWith(linkedDirectories);
        foreach (var name in state.Directories)
        {
            if (directories.ContainsKey(name) || linkedDirectories.Contains(name)) continue;
            PlanRemoval(plan, Join(path, name));
            difference = true;
        }
        if (difference) state.ModifiedTime = null; // until every difference is reported
        plan.Listed.Add((state, path, modifiedTime, listedAt, files, kept, difference, null));
    }

    private async Task ReportAsync(RefreshPlan plan, Receiver receiver)
    {
        foreach (var skipped in plan.Skipped)
        {
            if (receiver.Skipped is { } report) await report(skipped).ConfigureAwait(false);
        }

        var moves = receiver.Moved is null
            ? []
            : MoveMatcher.Match(plan.Vanished.Select(v => (v.Path, RemoteFiles.Revision(v.Attributes))),
                plan.Found.Where(f => f.IsNew).Select(f => (f.Path, RemoteFiles.Revision(f.Attributes))));
        var movedFrom = new HashSet<string>(StringComparer.Ordinal);
        var movedTo = new HashSet<string>(StringComparer.Ordinal);
        var found = plan.Found.ToDictionary(f => f.Path, f => f.Attributes, StringComparer.Ordinal);
        foreach (var (from, to) in moves)
        {
            await receiver.Moved!(from, to, found[to]).ConfigureAwait(false);
            movedFrom.Add(from);
            movedTo.Add(to);
            Forget(from);
            Record(to, found[to]);
        }
        foreach (var (path, attributes, _) in plan.Found)
        {
            if (movedTo.Contains(path)) continue;
            if (await receiver.Changed(path, attributes).ConfigureAwait(false)) Record(path, attributes);
            else Skip(path);
        }
        foreach (var (path, _) in plan.Vanished)
        {
            if (movedFrom.Contains(path)) continue;
            await receiver.Removed(path).ConfigureAwait(false);
            Forget(path);
        }

        // Everything is reported: the tree takes the listings.
        foreach (var directory in plan.RemovedDirectories)
        {
            var prefix = directory + "/";
            foreach (var doomed in _directories.Keys.Where(k => k == directory || (directory.Length == 0 ? k.Length > 0 : k.StartsWith(prefix, StringComparison.Ordinal))).ToList())
                _directories.Remove(doomed);
            if (directory.Length > 0 && _directories.TryGetValue(ParentOf(directory), out var parent)) parent.Directories.Remove(NameOf(directory));
        }
        foreach (var (state, path, modifiedTime, listedAt, files, directories, difference, unlisted) in plan.Listed)
        {
            if (!_directories.ContainsKey(path)) continue;
            foreach (var name in state.Files.Keys.Where(n => !files.ContainsKey(n)).ToList()) state.Files.Remove(name);
            state.Retry.RemoveWhere(n => !files.ContainsKey(n));
            state.Directories.Clear();
            state.Directories.UnionWith(directories);
            state.Unlisted = unlisted;
            state.ModifiedTime = modifiedTime;
            state.ListedAt = listedAt;
            if (difference) state.ChangedAt = listedAt;
        }
    }

    private void Record(string path, SftpAttributes attributes)
    {
        if (!_directories.TryGetValue(ParentOf(path), out var state)) return;
        state.Files[NameOf(path)] = attributes;
        state.Retry.Remove(NameOf(path));
    }

    /// <summary>
    /// Forgets a file the receiver skipped (it could not be read): its directory is listed at every refresh and the
    /// file offered again until it is taken or gone.
    /// </summary>
    public void Skip(string path)
    {
        if (!_directories.TryGetValue(ParentOf(path), out var state)) return;
        state.Files.Remove(NameOf(path));
        state.Retry.Add(NameOf(path));
    }

    private void Forget(string path)
    {
        if (_directories.TryGetValue(ParentOf(path), out var state)) state.Files.Remove(NameOf(path));
    }

    // ---- Helpers ----------------------------------------------------------------------------------------------

    // A symbolic link or a special file met in a listing, named as the local driver names them; null for an entry whose
    // kind the server did not say. A link hides its subtree: a directory replaced by a link is out of sight, not gone.
    private static SkippedEntry? NotSynced(string path, SftpAttributes attributes) =>
        attributes.IsSymbolicLink ? new SkippedEntry(path, LinkReason, HidesSubtree: true)
        : attributes.Permissions is null ? null
        : new SkippedEntry(path, SpecialReason, HidesSubtree: false);

    // The marker at the folder's root: seen, or gone after it was seen (the folder is not the one synced any more).
    private void CheckMarker(bool present)
    {
        if (present) MarkerSeen = true;
        else if (MarkerSeen && MarkerMissing is { } missing) throw missing();
    }

    private async Task<Dictionary<string, Listing?>> ListManyAsync(SftpClient client, IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        var listings = new ConcurrentDictionary<string, Listing?>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(paths, Throttle(cancellationToken), async (path, token) =>
        {
            try
            {
                listings[path] = new Listing(await client.ReadDirectoryAsync(RemotePath(path), token).ConfigureAwait(false), null);
            }
            catch (RemoteFileNotFoundException)
            {
                listings[path] = null;
            }
            catch (SftpStatusException e) when (e.Code == SftpStatusCode.PermissionDenied)
            {
                listings[path] = new Listing(null, "the login user may not list this directory (permission denied)");
            }
        }).ConfigureAwait(false);
        return new Dictionary<string, Listing?>(listings, StringComparer.Ordinal);
    }

    // A known directory's attributes, null when nothing is there. Below the folder's directory, not following a link
    // (one in a directory's place is seen as a link); the folder's directory itself may be a link (the setup chose it).
    private async Task<SftpAttributes?> LookAtDirectoryAsync(SftpClient client, string path, CancellationToken cancellationToken)
    {
        if (path.Length > 0) return await client.TryLStatAsync(RemotePath(path), cancellationToken).ConfigureAwait(false);
        try
        {
            return await client.StatAsync(_root, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
    }

    private static ParallelOptions Throttle(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = MaxConcurrentRequests, CancellationToken = cancellationToken };

    private string RemotePath(string path) => path.Length == 0 ? _root : RemoteLayout.Join(_root, path);

    private static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    private static string ParentOf(string path) => path.LastIndexOf('/') is var slash and >= 0 ? path[..slash] : "";

    private static string NameOf(string path) => path[(path.LastIndexOf('/') + 1)..];
}
