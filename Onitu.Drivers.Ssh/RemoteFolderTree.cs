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

    /// <summary>Entries whose name starts with this are skipped (the driver's temporary files).</summary>
    public required string HiddenPrefix { get; init; }

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

        public readonly Dictionary<string, SftpAttributes> Files = new(StringComparer.Ordinal);
        public readonly HashSet<string> Directories = new(StringComparer.Ordinal);
    }

    /// <summary>A temporary file of the driver seen while listing.</summary>
    public sealed record HiddenEntry(string Path, SftpAttributes Attributes);

    // ---- Loading ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Lists the whole tree, replacing what was known. Returns every file by relative path and the hidden
    /// (temporary) files seen, or <see langword="null"/> when the folder's directory does not exist.
    /// </summary>
    public async Task<(Dictionary<string, SftpAttributes> Files, List<HiddenEntry> Hidden)?> LoadAsync(SftpClient client, CancellationToken cancellationToken)
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
        var loaded = await ListSubtreeAsync(client, "", rootAttributes.ModifiedTime, hidden, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFileNotFoundException($"{_root} disappeared while it was listed.");
        _directories.Clear();
        var files = new Dictionary<string, SftpAttributes>(StringComparer.Ordinal);
        foreach (var (path, state) in loaded)
        {
            _directories[path] = state;
            foreach (var (name, attributes) in state.Files) files[Join(path, name)] = attributes;
        }
        LastListedCount = loaded.Count;
        return (files, hidden);
    }

    // Lists a directory and everything below it, level by level with many listings in flight. Null when the
    // directory itself is gone; subdirectories that vanish meanwhile are left out.
    private async Task<Dictionary<string, DirectoryState>?> ListSubtreeAsync(SftpClient client, string top, uint? topModifiedTime,
        List<HiddenEntry>? hidden, CancellationToken cancellationToken)
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
                if (listings[path] is not { } entries)
                {
                    // Gone between its parent's listing and its own: not part of the tree.
                    if (path == top) return null;
                    result[ParentOf(path)].Directories.Remove(NameOf(path));
                    continue;
                }
                var state = new DirectoryState { ModifiedTime = modifiedTime, ModifiedTimeSeenAt = started, ListedAt = started };
                foreach (var entry in entries)
                {
                    var child = Join(path, entry.FileName);
                    if (entry.FileName.StartsWith(HiddenPrefix, StringComparison.Ordinal))
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
                }
                result[path] = state;
            }
            level = next;
        }
        return result;
    }

    // ---- Refreshing -------------------------------------------------------------------------------------------

    /// <summary>
    /// Finds what changed since the last load or refresh and reports it: <paramref name="changed"/> for a new or
    /// modified file, <paramref name="removed"/> for a file gone (a rename is reported as both). The tree is updated
    /// after each report, so a failed report is found again by the next refresh.
    /// </summary>
    /// <param name="client">The session to list with.</param>
    /// <param name="pollInterval">How often refreshes run, to spread the rescan over them.</param>
    /// <param name="rescanInterval">The longest a directory goes without being listed; zero lists every directory at every poll.</param>
    /// <param name="changed">Reports a new or changed file.</param>
    /// <param name="removed">Reports a removed file.</param>
    /// <param name="cancellationToken">Stops the refresh.</param>
    /// <exception cref="RemoteFileNotFoundException">The folder's directory itself is gone.</exception>
    public async Task RefreshAsync(SftpClient client, TimeSpan pollInterval, TimeSpan rescanInterval,
        Func<string, SftpAttributes, ValueTask> changed, Func<string, ValueTask> removed, CancellationToken cancellationToken)
    {
        if (!IsLoaded) throw new InvalidOperationException("The tree must be loaded before it is refreshed.");

        // 1. Stat every known directory: a small request each, all in flight together.
        var stats = new ConcurrentDictionary<string, SftpAttributes?>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(_directories.Keys.ToList(), Throttle(cancellationToken), async (path, token) =>
        {
            stats[path] = await TryStatDirectoryAsync(client, RemotePath(path), token).ConfigureAwait(false);
        }).ConfigureAwait(false);
        if (stats[""] is null) throw new RemoteFileNotFoundException($"The folder's directory {_root} is gone from the server.");
        // Every mtime seen now existed by this moment, and the listings below start after it.
        var now = Stopwatch.GetTimestamp();

        // 2. Choose what to list: moved mtimes, unsettled listings, recent changes, then the rescan's share.
        var hotWindow = (long)(rescanInterval.TotalSeconds * Stopwatch.Frequency);
        var settle = (long)(SettleTime.TotalSeconds * Stopwatch.Frequency);
        var toList = new Dictionary<string, uint?>(StringComparer.Ordinal);
        var gone = new List<string>();
        var rest = new List<(string Path, long ListedAt)>();
        foreach (var (path, state) in _directories)
        {
            var stat = stats[path];
            if (stat is null) gone.Add(path);
            else if (rescanInterval == TimeSpan.Zero
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

        // 3. List them together, then apply parents before children (a child may be gone with its parent). New
        // names are reported before the removals: what a rename moved is always known somewhere.
        var listings = await ListManyAsync(client, toList.Keys, cancellationToken).ConfigureAwait(false);
        LastListedCount = toList.Count;
        foreach (var path in toList.Keys.OrderBy(p => p.Length).ThenBy(p => p, StringComparer.Ordinal))
        {
            if (!_directories.TryGetValue(path, out var state)) continue; // went with an ancestor
            if (listings[path] is not { } entries)
            {
                await RemoveSubtreeAsync(path, removed).ConfigureAwait(false);
                continue;
            }
            await ApplyListingAsync(client, path, state, toList[path], entries, now, changed, removed, cancellationToken).ConfigureAwait(false);
        }
        foreach (var path in gone.OrderBy(p => p.Length))
        {
            if (_directories.ContainsKey(path)) await RemoveSubtreeAsync(path, removed).ConfigureAwait(false);
        }
    }

    private async Task ApplyListingAsync(SftpClient client, string path, DirectoryState state, uint? modifiedTime,
        IReadOnlyList<SftpDirectoryEntry> entries, long listedAt, Func<string, SftpAttributes, ValueTask> changed,
        Func<string, ValueTask> removed, CancellationToken cancellationToken)
    {
        // Until every difference is reported, the directory counts as unlisted: a failure makes the next refresh
        // list it again.
        state.ModifiedTime = null;
        var difference = false;
        var files = new Dictionary<string, SftpAttributes>(StringComparer.Ordinal);
        var directories = new Dictionary<string, uint?>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.FileName.StartsWith(HiddenPrefix, StringComparison.Ordinal)) continue;
            if (entry.Attributes.IsDirectory) directories[entry.FileName] = entry.Attributes.ModifiedTime;
            else if (entry.Attributes.IsRegularFile) files[entry.FileName] = entry.Attributes;
        }

        foreach (var (name, attributes) in files)
        {
            if (state.Files.TryGetValue(name, out var known) && SshDriver.Revision(known) == SshDriver.Revision(attributes)) continue;
            await changed(Join(path, name), attributes).ConfigureAwait(false);
            state.Files[name] = attributes;
            difference = true;
        }
        foreach (var (name, childModifiedTime) in directories)
        {
            if (state.Directories.Contains(name)) continue;
            var child = Join(path, name);
            if (await ListSubtreeAsync(client, child, childModifiedTime, hidden: null, cancellationToken).ConfigureAwait(false) is { } added)
            {
                foreach (var (directory, addedState) in added.OrderBy(a => a.Key.Length))
                {
                    foreach (var (file, attributes) in addedState.Files)
                        await changed(Join(directory, file), attributes).ConfigureAwait(false);
                    _directories[directory] = addedState;
                }
                state.Directories.Add(name);
            }
            difference = true;
        }

        foreach (var name in state.Files.Keys.Where(n => !files.ContainsKey(n)).ToList())
        {
            await removed(Join(path, name)).ConfigureAwait(false);
            state.Files.Remove(name);
            difference = true;
        }
        foreach (var name in state.Directories.Where(n => !directories.ContainsKey(n)).ToList())
        {
            await RemoveSubtreeAsync(Join(path, name), removed).ConfigureAwait(false);
            difference = true;
        }
        state.ModifiedTime = modifiedTime;
        state.ListedAt = listedAt;
        if (difference) state.ChangedAt = listedAt;
    }

    // Forgets a directory and everything below it, reporting its files removed first.
    private async Task RemoveSubtreeAsync(string path, Func<string, ValueTask> removed)
    {
        var prefix = path + "/";
        var doomed = _directories.Keys.Where(k => k == path || (path.Length == 0 ? k.Length > 0 : k.StartsWith(prefix, StringComparison.Ordinal))).ToList();
        foreach (var directory in doomed)
        {
            foreach (var file in _directories[directory].Files.Keys)
                await removed(Join(directory, file)).ConfigureAwait(false);
        }
        foreach (var directory in doomed) _directories.Remove(directory);
        if (path.Length > 0 && _directories.TryGetValue(ParentOf(path), out var parent))
            parent.Directories.Remove(NameOf(path));
    }

    // ---- Helpers ----------------------------------------------------------------------------------------------

    private async Task<Dictionary<string, IReadOnlyList<SftpDirectoryEntry>?>> ListManyAsync(SftpClient client, IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        var listings = new ConcurrentDictionary<string, IReadOnlyList<SftpDirectoryEntry>?>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(paths, Throttle(cancellationToken), async (path, token) =>
        {
            try
            {
                listings[path] = await client.ReadDirectoryAsync(RemotePath(path), token).ConfigureAwait(false);
            }
            catch (RemoteFileNotFoundException)
            {
                listings[path] = null;
            }
        }).ConfigureAwait(false);
        return new Dictionary<string, IReadOnlyList<SftpDirectoryEntry>?>(listings, StringComparer.Ordinal);
    }

    private static async Task<SftpAttributes?> TryStatDirectoryAsync(SftpClient client, string path, CancellationToken cancellationToken) =>
        await client.TryLStatAsync(path, cancellationToken).ConfigureAwait(false) is { IsDirectory: true } attributes ? attributes : null;

    private static ParallelOptions Throttle(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = MaxConcurrentRequests, CancellationToken = cancellationToken };

    private string RemotePath(string path) => path.Length == 0 ? _root : SshDriver.Join(_root, path);

    private static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    private static string ParentOf(string path) => path.LastIndexOf('/') is var slash and >= 0 ? path[..slash] : "";

    private static string NameOf(string path) => path[(path.LastIndexOf('/') + 1)..];
}
