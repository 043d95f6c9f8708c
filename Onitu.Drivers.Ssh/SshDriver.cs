using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// The SSH driver: syncs directories of an SSH server over SFTP v3, through the system OpenSSH client. Scans and
/// polls the remote directories for changes; every write lands atomically (a hidden temporary file beside the
/// target, then posix-rename), refusing to overwrite or delete a version the engine has not seen.
/// </summary>
/// <remarks>
/// <para>
/// Revisions are <c>{size}-{mtime in seconds}</c>. SFTP v3 times have a one-second resolution, so every write of
/// this driver sets the new file's mtime past the one it replaces: its own rewrites always change the revision.
/// (A same-size rewrite by another program within the same second is missed until the next change.)
/// </para>
/// <para>
/// Temporary files are named <c>.onitu-{fid}.{writer}…</c>, where the writer id is this service's own (kept in the
/// driver state): two Onitu instances syncing the same server never share one. Whole-file uploads also carry a
/// random part; a chunked upload's <c>.part</c> name is stable so that it can be resumed after a restart.
/// </para>
/// </remarks>
public sealed class SshDriver : IDriver, IChunkedReader, IChunkedWriter, INativeMove, IFileStat
{
    internal const string TempPrefix = ".onitu-";

    /// <summary>Leftover temporary files older than this are removed by the startup scan.</summary>
    internal static readonly TimeSpan AbandonedUploadAge = TimeSpan.FromDays(7);

    // Echo records outlive any poll that could still report the change they describe.
    private static readonly TimeSpan OwnChangeLifetime = TimeSpan.FromMinutes(10);

    private const int MaxReadAhead = 16 * 1024 * 1024;

    // A chunked read's stream unused this long belongs to a transfer that stopped: its handle and read-ahead go.
    private static readonly TimeSpan IdleReaderLifetime = TimeSpan.FromSeconds(30);

    // Consecutive failed polls after which the server counts as unreachable rather than briefly disconnected.
    private const int PollFailuresBeforeFailing = 3;
    private const string WriterIdKey = "writer-id";

    private readonly IPlug _plug;
    private readonly SshOptions _options;
    private readonly SftpClient?[] _clients;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OwnChange> _own = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OpenUpload> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChunkReader> _readers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RemoteFolderTree> _trees = new(StringComparer.Ordinal);
    private readonly string _instanceId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private Dictionary<string, string>? _folders;
    private DriverException? _refused;
    private string _writerId = "";
    private int _next;
    private int _disposed;

    /// <summary>Creates the driver of one service. Connects on first use.</summary>
    /// <exception cref="DriverException">An option is out of range.</exception>
    public SshDriver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _options = SshOptions.From(plug.Options, plug.BaseDirectory);
        _clients = new SftpClient?[_options.Connections];
    }

    /// <summary>A change this driver made itself, so that polling does not report it back (null revision: a deletion).</summary>
    private readonly record struct OwnChange(string? Revision, long At);

    /// <summary>A chunked upload's temporary file, kept open between chunks.</summary>
    private sealed record OpenUpload(SftpClient Client, SftpHandle Handle);

    /// <summary>A chunked read's stream, kept between chunks with its read-ahead in flight.</summary>
    private sealed record ChunkReader(SftpReadStream Stream, string? Revision)
    {
        public long LastUsed { get; init; } = Stopwatch.GetTimestamp();
    }

    // ---- Connections ------------------------------------------------------------------------------------------

    /// <summary>How many chunked reads keep their stream open for the next chunk, for tests.</summary>
    internal int OpenChunkReaders => _readers.Count;

    /// <summary>The ssh process ids of the open connections, for tests that cut them.</summary>
    internal IReadOnlyList<int> ConnectionProcessIds => [.. _clients.OfType<SftpClient>().Select(c => c.SshProcessId)];

    private async Task<SftpClient> ClientAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var slot = (int)((uint)Interlocked.Increment(ref _next) % (uint)_clients.Length);
        if (Volatile.Read(ref _clients[slot]) is { } ready && _folders is not null) return ready;
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A refused login or host key is tried once: every later call gets the same refusal without running ssh
            // (a server with fail2ban bans a client that keeps knocking with a wrong key).
            if (_refused is not null) throw _refused;
            var client = _clients[slot];
            if (client is null)
            {
                try
                {
                    client = await SftpClient.ConnectAsync(_options.Connection, cancellationToken).ConfigureAwait(false);
                }
                catch (SshConnectionException e) when (!e.IsTransient)
                {
                    _refused = new DriverException($"{e.Message} Not tried again until the setup is fixed and the service restarted.", e);
                    throw _refused;
                }
                Volatile.Write(ref _clients[slot], client);
            }
            if (_folders is null)
            {
                var writerId = await _plug.State.GetAsync(WriterIdKey, cancellationToken).ConfigureAwait(false);
                if (writerId is null)
                {
                    writerId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
                    await _plug.State.SetAsync(WriterIdKey, writerId, cancellationToken).ConfigureAwait(false);
                }
                _writerId = writerId;
                var root = _options.Root.StartsWith('/') ? _options.Root : Join(await client.RealPathAsync(".", cancellationToken).ConfigureAwait(false), _options.Root);
                _folders = _plug.Folders.ToDictionary(f => f.Name, f => Normalize(f.Path.StartsWith('/') ? f.Path : Join(root, f.Path)), StringComparer.Ordinal);
            }
            return client;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    // Runs an SFTP operation; a lost connection is dropped so that the next call reconnects.
    private async Task<T> RunAsync<T>(Func<SftpClient, Task<T>> operation, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        return await RunOnAsync(client, operation).ConfigureAwait(false);
    }

    // Runs an SFTP operation on one given session (one holding an open handle).
    private async Task<T> RunOnAsync<T>(SftpClient client, Func<SftpClient, Task<T>> operation)
    {
        try
        {
            return await operation(client).ConfigureAwait(false);
        }
        catch (SshConnectionException)
        {
            Drop(client);
            throw;
        }
    }

    private void Drop(SftpClient client)
    {
        for (var i = 0; i < _clients.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _clients[i], null, client) == client)
                _ = client.DisposeAsync().AsTask();
        }
    }

    private Task RunAsync(Func<SftpClient, Task> operation, CancellationToken cancellationToken) =>
        RunAsync(async c => { await operation(c).ConfigureAwait(false); return true; }, cancellationToken);

    // ---- Paths ------------------------------------------------------------------------------------------------

    internal static string Join(string a, string b) => a.EndsWith('/') ? a + b : a + "/" + b;

    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == ".." && parts.Count > 0) parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }

    private string FolderDirectory(string folder) =>
        _folders!.TryGetValue(folder, out var directory) ? directory : throw new DriverException($"The folder '{folder}' is not mapped on this service.");

    private async Task<string> ResolveAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        await ClientAsync(cancellationToken).ConfigureAwait(false);
        return Join(FolderDirectory(metadata.Folder), metadata.Path);
    }

    private static string Parent(string path) => path[..path.LastIndexOf('/')] is { Length: > 0 } p ? p : "/";

    // A whole-file upload's temporary file: unique to the call.
    private string TempFor(string target, Metadata metadata) =>
        Join(Parent(target), $"{TempPrefix}{metadata.Fid:N}.{_writerId}.{_instanceId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.tmp");

    // A chunked upload's temporary file: the same across restarts, so that the upload can resume.
    private string PartFor(string target, Metadata metadata) =>
        Join(Parent(target), $"{TempPrefix}{metadata.Fid:N}.{_writerId}.part");

    // The mtime a write gives the new file: now, but past the one of the revision it replaces (one-second times).
    private static uint CommitTime(Metadata metadata)
    {
        var now = (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var revision = metadata.Revision;
        var dash = revision?.LastIndexOf('-') ?? -1;
        return dash > 0 && uint.TryParse(revision.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var replaced)
            ? Math.Max(now, replaced + 1)
            : now;
    }

    private void RecordOwn(string path, string? revision) => _own[path] = new OwnChange(revision, Stopwatch.GetTimestamp());

    internal static string Revision(SftpAttributes attributes) =>
        string.Create(CultureInfo.InvariantCulture, $"{attributes.Size ?? 0}-{attributes.ModifiedTime ?? 0}");

    private static Metadata ToMetadata(string folder, string path, SftpAttributes attributes)
    {
        var metadata = new Metadata(folder, path);
        Apply(attributes, metadata);
        return metadata;
    }

    private static void Apply(SftpAttributes attributes, Metadata metadata)
    {
        metadata.Revision = Revision(attributes);
        metadata.Size = (long)(attributes.Size ?? 0);
        metadata.ModifiedAt = attributes.ModifiedAt;
    }

    private async Task<IDisposable> LockAsync(string path, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(gate);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release();
        }
    }

    private static async Task<SftpAttributes?> TryStatAsync(SftpClient client, string path, CancellationToken cancellationToken) =>
        await client.TryLStatAsync(path, cancellationToken).ConfigureAwait(false) is { IsRegularFile: true } attributes ? attributes : null;

    private static async Task MakeDirectoriesAsync(SftpClient client, string directory, CancellationToken cancellationToken)
    {
        try
        {
            if ((await client.StatAsync(directory, cancellationToken).ConfigureAwait(false)).IsDirectory) return;
            throw new ServiceException($"{directory} exists on the server and is not a directory.", isTransient: false);
        }
        catch (RemoteFileNotFoundException)
        {
        }
        if (directory != "/") await MakeDirectoriesAsync(client, Parent(directory), cancellationToken).ConfigureAwait(false);
        try
        {
            await client.MakeDirectoryAsync(directory, null, cancellationToken).ConfigureAwait(false);
        }
        catch (SftpStatusException e) when (e.Code == SftpStatusCode.Failure)
        {
            // Created meanwhile by a concurrent call.
        }
    }

    private async Task RemoveEmptyParentsAsync(SftpClient client, string folder, string path, CancellationToken cancellationToken)
    {
        var root = FolderDirectory(folder);
        for (var directory = Parent(path); directory.Length > root.Length && directory.StartsWith(root + "/", StringComparison.Ordinal); directory = Parent(directory))
        {
            try
            {
                await client.RemoveDirectoryAsync(directory, cancellationToken).ConfigureAwait(false);
            }
            catch (ServiceException)
            {
                return; // not empty (or gone): stop
            }
        }
    }

    // ---- Scan and watch -------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        await ClientAsync(cancellationToken).ConfigureAwait(false);
        foreach (var folder in _plug.Folders)
            await ScanFolderAsync(folder.Name, prepare: true, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task WatchAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        try
        {
            while (true)
            {
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
                try
                {
                    await ClientAsync(cancellationToken).ConfigureAwait(false);
                    ForgetOldOwnChanges();
                    await CloseIdleReadersAsync(IdleReaderLifetime).ConfigureAwait(false);
                    foreach (var folder in _plug.Folders)
                        await PollFolderAsync(folder.Name, cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }
                catch (ServiceException e) when (e.IsTransient && e is not SshConnectionException { IsStall: true } && ++failures < PollFailuresBeforeFailing)
                {
                    // A lost connection is reopened by the next poll; a server that stays away ends the watch,
                    // and the engine reports the service failing with the reason and restarts it with backoff. A
                    // stall ends it at once: the link is down for as long as the keep-alives already waited.
                    Log.PollFailed(_plug.Logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // Lists the whole folder and reports how it differs from what the engine knows of this service; removes the
    // temporary files earlier runs left behind. Files renamed while Onitu was stopped are reported as moves.
    private async Task ScanFolderAsync(string folder, bool prepare, CancellationToken cancellationToken)
    {
        var root = FolderDirectory(folder);
        var tree = new RemoteFolderTree(root) { IsHidden = IsTemporaryName };
        // What the engine knows is read before the server is listed: a file this driver writes meanwhile (the engine
        // uploads while a poll rescans) then shows as found, not as known-but-missing, which would read as a deletion.
        var known = new Dictionary<string, Metadata>(StringComparer.Ordinal);
        await foreach (var metadata in _plug.ListFilesAsync(folder, cancellationToken: cancellationToken).ConfigureAwait(false))
            known[metadata.Path] = metadata;
        var loaded = await RunAsync(client => tree.LoadAsync(client, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (loaded is null)
        {
            if (known.Count > 0)
                throw new ServiceException($"The directory of folder '{folder}' ({root}) is missing on the server although this service holds files in it; nothing is reported deleted until it is back.");
            if (!prepare || _plug.DryRun)
                return;
            // Created empty, and watched from now on: without its tree, the first poll would rescan while the engine
            // already uploads into it.
            await RunAsync(c => MakeDirectoriesAsync(c, root, cancellationToken), cancellationToken).ConfigureAwait(false);
            loaded = await RunAsync(client => tree.LoadAsync(client, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        if (loaded is not var (found, hidden, skipped))
            return;

        foreach (var entry in skipped)
        {
            await ReportSkippedAsync(folder, entry.Path, entry.Reason, cancellationToken).ConfigureAwait(false);
            // What the engine knows under a directory that cannot be listed is not gone: it is out of sight.
            if (entry.IsDirectory)
            {
                foreach (var path in known.Keys.Where(p => p.StartsWith(entry.Path + "/", StringComparison.Ordinal)).ToList())
                    known.Remove(path);
            }
        }
        var fresh = new List<(string Path, SftpAttributes Attributes)>();
        foreach (var (path, attributes) in found)
        {
            if (known.Remove(path, out var previous) && previous.Revision == Revision(attributes)) { _own.TryRemove(Join(root, path), out _); continue; }
            if (previous is null) fresh.Add((path, attributes));
            else if (!await ReportFoundAsync(folder, root, path, attributes, cancellationToken).ConfigureAwait(false)) tree.Skip(path);
        }
        var moves = MoveMatcher.Match(known.Values.Where(m => m.Revision is not null).Select(m => (m.Path, m.Revision!)),
            fresh.Select(f => (f.Path, Revision(f.Attributes))));
        var movedTo = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (from, to) in moves) movedTo[to] = from;
        foreach (var (path, attributes) in fresh)
        {
            if (movedTo.TryGetValue(path, out var from))
            {
                await ReportMovedAsync(folder, root, from, path, attributes, cancellationToken).ConfigureAwait(false);
                known.Remove(from);
            }
            else if (!await ReportFoundAsync(folder, root, path, attributes, cancellationToken).ConfigureAwait(false))
            {
                tree.Skip(path);
            }
        }
        foreach (var metadata in known.Values)
            await ReportRemovedAsync(folder, root, metadata.Path, cancellationToken).ConfigureAwait(false);
        _trees[folder] = tree;
        await RemoveLeftoversAsync(root, hidden, cancellationToken).ConfigureAwait(false);
    }

    private async Task PollFolderAsync(string folder, CancellationToken cancellationToken)
    {
        if (!_trees.TryGetValue(folder, out var tree))
        {
            await ScanFolderAsync(folder, prepare: false, cancellationToken).ConfigureAwait(false);
            return;
        }
        var root = FolderDirectory(folder);
        var receiver = new RemoteFolderTree.Receiver
        {
            Changed = (path, attributes) => ReportFoundAsync(folder, root, path, attributes, cancellationToken),
            Removed = path => ReportRemovedAsync(folder, root, path, cancellationToken),
            Moved = (from, to, attributes) => ReportMovedAsync(folder, root, from, to, attributes, cancellationToken),
            Skipped = entry => ReportSkippedAsync(folder, entry.Path, entry.Reason, cancellationToken),
        };
        try
        {
            await RunAsync(client => tree.RefreshAsync(client, _options.PollInterval, _options.RescanInterval, receiver, cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteFileNotFoundException)
        {
            _trees.Remove(folder);
            throw new ServiceException($"The directory of folder '{folder}' ({root}) disappeared from the server; nothing is reported deleted until it is back.");
        }
    }

    // A new or changed file seen on the server, unless it is this driver's own write. False when it is skipped: a
    // name the engine refuses, or a file the login user may not read.
    private async ValueTask<bool> ReportFoundAsync(string folder, string root, string path, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        var full = Join(root, path);
        if (_own.TryGetValue(full, out var own) && own.Revision == Revision(attributes))
        {
            _own.TryRemove(new KeyValuePair<string, OwnChange>(full, own));
            return true;
        }
        if (!TryMetadata(folder, path, attributes, out var metadata, out var refusal))
        {
            await ReportSkippedAsync(folder, path, refusal, cancellationToken).ConfigureAwait(false);
            return false;
        }
        if (await UnreadableAsync(full, attributes, cancellationToken).ConfigureAwait(false) is { } reason)
        {
            await ReportSkippedAsync(folder, path, reason, cancellationToken).ConfigureAwait(false);
            return false;
        }
        await _plug.UpdateFileAsync(metadata, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async ValueTask ReportRemovedAsync(string folder, string root, string path, CancellationToken cancellationToken)
    {
        var full = Join(root, path);
        if (_own.TryGetValue(full, out var own) && own.Revision is null)
        {
            _own.TryRemove(new KeyValuePair<string, OwnChange>(full, own));
            return;
        }
        if (!TryMetadata(folder, path, null, out var metadata, out _)) return; // never reported as a file either
        await _plug.DeleteFileAsync(metadata, cancellationToken).ConfigureAwait(false);
    }

    // A rename on the server: the engine renames on the other services instead of copying the content again. A
    // rename this driver made itself (both ends recorded) is not reported back; any other mix is reported as its
    // two halves.
    private async ValueTask ReportMovedAsync(string folder, string root, string from, string to, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        var fullFrom = Join(root, from);
        var fullTo = Join(root, to);
        var ownFrom = _own.TryGetValue(fullFrom, out var left) && left.Revision is null;
        var ownTo = _own.TryGetValue(fullTo, out var right) && right.Revision == Revision(attributes);
        if (ownFrom || ownTo
            || !TryMetadata(folder, from, null, out var source, out _)
            || !TryMetadata(folder, to, attributes, out var destination, out _))
        {
            await ReportFoundAsync(folder, root, to, attributes, cancellationToken).ConfigureAwait(false);
            await ReportRemovedAsync(folder, root, from, cancellationToken).ConfigureAwait(false);
            return;
        }
        await _plug.MoveFileAsync(source, destination, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken)
    {
        Log.Skipping(_plug.Logger, folder, path, reason);
        return _plug.ReportSkippedAsync(folder, path, reason, cancellationToken);
    }

    // The engine's paths stay inside their folder: a name it refuses (a '..' segment sent by the server) is skipped.
    private static bool TryMetadata(string folder, string path, SftpAttributes? attributes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Metadata? metadata, out string refusal)
    {
        try
        {
            metadata = attributes is null ? new Metadata(folder, path) : ToMetadata(folder, path, attributes);
            refusal = "";
            return true;
        }
        catch (ArgumentException e)
        {
            metadata = null;
            refusal = "not a valid path in a folder: " + e.Message;
            return false;
        }
    }

    // A file whose mode does not let everyone read it may still be ours to read: one OPEN tells. Null when readable.
    private async Task<string?> UnreadableAsync(string full, SftpAttributes attributes, CancellationToken cancellationToken)
    {
        if (attributes.Permissions is not { } mode || (mode & 0x004) != 0) return null;
        return await RunAsync(async client =>
        {
            try
            {
                var handle = await client.OpenAsync(full, SftpOpenFlags.Read, null, cancellationToken).ConfigureAwait(false);
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
                return null;
            }
            catch (SftpStatusException e) when (e.Code == SftpStatusCode.PermissionDenied)
            {
                return "the login user may not read this file (permission denied)";
            }
            catch (RemoteFileNotFoundException)
            {
                return null; // gone meanwhile: the next poll reports it
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private void ForgetOldOwnChanges()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (path, own) in _own)
        {
            if (Stopwatch.GetElapsedTime(own.At, now) > OwnChangeLifetime)
                _own.TryRemove(new KeyValuePair<string, OwnChange>(path, own));
        }
    }

    // Temporary files of this service's earlier runs are dead (a whole-file upload never resumes); a chunked
    // upload's may still resume unless it is very old; those of other writers are left alone unless very old.
    private async Task RemoveLeftoversAsync(string root, List<RemoteFolderTree.HiddenEntry> hidden, CancellationToken cancellationToken)
    {
        if (_plug.DryRun)
            return; // a dry run changes nothing on the store
        var now = DateTimeOffset.UtcNow;
        var ours = $".{_writerId}.";
        var removed = 0;
        foreach (var (path, attributes) in hidden)
        {
            var name = path[(path.LastIndexOf('/') + 1)..];
            // Only temporary files (".onitu-<fid>.…"): other hidden names, such as the engine's folder marker
            // ".onitu-folder", are never removed however old they are.
            if (!IsTemporaryName(name)) continue;
            var mine = name.Contains(ours, StringComparison.Ordinal);
            var stale = mine && name.EndsWith(".tmp", StringComparison.Ordinal) && !name.Contains(_instanceId, StringComparison.Ordinal);
            var abandoned = attributes.ModifiedAt is { } modified && now - modified > AbandonedUploadAge;
            if (!stale && !abandoned) continue;
            var full = Join(root, path);
            await RunAsync(client => TryRemoveAsync(client, full), cancellationToken).ConfigureAwait(false);
            removed++;
        }
        if (removed > 0) Log.LeftoversRemoved(_plug.Logger, removed, root);
    }

    /// <summary>
    /// Whether a name is one of the driver's temporary files (<c>.onitu-&lt;fid&gt;.…</c>): only those are hidden from
    /// scans and swept; any other name, <c>.onitu-notes.txt</c> included, is a user's file and synced.
    /// </summary>
    internal static bool IsTemporaryName(string name) =>
        name.Length > TempPrefix.Length + 33 && name.StartsWith(TempPrefix, StringComparison.Ordinal) && name[TempPrefix.Length + 32] == '.'
        && !name.AsSpan(TempPrefix.Length, 32).ContainsAnyExcept("0123456789abcdef");

    /// <inheritdoc />
    public async ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var attributes = await RunAsync(client => TryStatAsync(client, path, cancellationToken), cancellationToken).ConfigureAwait(false);
        return attributes is null ? null : ToMetadata(metadata.Folder, metadata.Path, attributes);
    }

    // ---- Reading ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        return await RunAsync<Stream>(async client =>
        {
            var handle = await OpenForReadAsync(client, path, metadata, cancellationToken).ConfigureAwait(false);
            return new SftpReadStream(client, handle, MaxReadAhead);
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<SftpHandle> OpenForReadAsync(SftpClient client, string path, Metadata metadata, CancellationToken cancellationToken)
    {
        try
        {
            return await client.OpenAsync(path, SftpOpenFlags.Read, null, cancellationToken).ConfigureAwait(false);
        }
        catch (SftpStatusException e) when (e.Code == SftpStatusCode.Failure)
        {
            // A directory where a file was expected.
            throw new RemoteFileNotFoundException($"{metadata} is not a file on the server ({path}).", e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        // A transfer reads a file's chunks in order: the stream left by the previous chunk continues at this offset,
        // its read-ahead already in flight, so the pipe does not drain between chunks.
        var reader = await TakeReaderAsync(path, metadata.Revision, offset).ConfigureAwait(false)
            ?? await RunAsync(async client =>
            {
                var handle = await OpenForReadAsync(client, path, metadata, cancellationToken).ConfigureAwait(false);
                return new ChunkReader(new SftpReadStream(client, handle, MaxReadAhead, offset), metadata.Revision);
            }, cancellationToken).ConfigureAwait(false);
        int read;
        try
        {
            read = await reader.Stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await reader.Stream.DisposeAsync().ConfigureAwait(false);
            if (e is SshConnectionException) Drop(reader.Stream.Client);
            throw;
        }
        if (read < buffer.Length || !_readers.TryAdd(path, reader with { LastUsed = Stopwatch.GetTimestamp() }))
            await reader.Stream.DisposeAsync().ConfigureAwait(false); // the end of the file, or another reader is kept
        return read;
    }

    // The stream a previous chunk left at exactly this offset of this revision, if any; any other is closed.
    private async Task<ChunkReader?> TakeReaderAsync(string path, string? revision, long offset)
    {
        if (!_readers.TryRemove(path, out var reader)) return null;
        if (reader.Revision == revision && reader.Stream.Position == offset && reader.Stream.Client.IsOpen) return reader;
        await reader.Stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    // Closes the streams of transfers that stopped reading (abandoned or failed elsewhere).
    private async Task CloseIdleReadersAsync(TimeSpan idle)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (path, reader) in _readers)
        {
            if (Stopwatch.GetElapsedTime(reader.LastUsed, now) >= idle && _readers.TryRemove(new KeyValuePair<string, ChunkReader>(path, reader)))
                await reader.Stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    // ---- Writing ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = TempFor(target, metadata);
        await RunAsync(async client =>
        {
            var handle = await OpenForWriteAsync(client, temp, target, SftpOpenFlags.Truncate, cancellationToken).ConfigureAwait(false);
            long size;
            try
            {
                size = await client.WriteFromStreamAsync(handle, 0, content, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
                await TryRemoveAsync(client, temp).ConfigureAwait(false);
                throw;
            }
            await CommitAsync(client, metadata, handle, (ulong)size, temp, target, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    // Opens a temporary file for writing next to its target, creating the target's directories when missing.
    private static async Task<SftpHandle> OpenForWriteAsync(SftpClient client, string temp, string target, SftpOpenFlags extra, CancellationToken cancellationToken)
    {
        var flags = SftpOpenFlags.Write | SftpOpenFlags.Create | extra;
        try
        {
            return await client.OpenAsync(temp, flags, null, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteFileNotFoundException)
        {
            await MakeDirectoriesAsync(client, Parent(target), cancellationToken).ConfigureAwait(false);
            return await client.OpenAsync(temp, flags, null, cancellationToken).ConfigureAwait(false);
        }
    }

    // Ends writing a temporary file (its writes all acknowledged): flushes it when asked, gives it its commit time
    // and closes it, all in flight together. OpenSSH's server handles requests one at a time, in order; a server
    // that reordered them would fail the setstat or the close, which fails the upload without touching the target.
    // Returns its attributes; the size is asked from the server when the caller does not know it (a resumed upload).
    private async Task<SftpAttributes> FinishWritingAsync(SftpClient client, SftpHandle handle, uint time, ulong? size, CancellationToken cancellationToken)
    {
        var steps = new List<Task>(4);
        if (_options.Fsync)
        {
            if (client.HasExtension(SftpExtensions.Fsync)) steps.Add(client.FsyncAsync(handle, cancellationToken));
            else Log.NoFsync(_plug.Logger);
        }
        steps.Add(client.FSetStatAsync(handle, new SftpAttributes { AccessTime = time, ModifiedTime = time }, cancellationToken));
        var stat = size is null ? client.FStatAsync(handle, cancellationToken) : null;
        if (stat is not null) steps.Add(stat);
        steps.Add(client.CloseAsync(handle, cancellationToken));
        await Task.WhenAll(steps).ConfigureAwait(false);
        return new SftpAttributes { Size = size ?? (await stat!.ConfigureAwait(false)).Size, AccessTime = time, ModifiedTime = time };
    }

    /// <inheritdoc />
    public int NegotiateChunkSize(int proposedChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposedChunkSize);
        return proposedChunkSize;
    }

    /// <inheritdoc />
    public async ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = PartFor(target, metadata);
        await CloseUploadAsync(temp).ConfigureAwait(false);
        await RunAsync(async client =>
        {
            var handle = await OpenForWriteAsync(client, temp, target, SftpOpenFlags.Truncate, cancellationToken).ConfigureAwait(false);
            _uploads[temp] = new OpenUpload(client, handle);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var temp = PartFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata);
        await CloseUploadAsync(temp).ConfigureAwait(false);
        await RunAsync(async client =>
        {
            var state = await TryStatAsync(client, temp, cancellationToken).ConfigureAwait(false);
            if (state is null || (long)(state.Size ?? 0) < offset)
                throw new UploadNotResumableException($"The partial upload of {metadata} is gone or shorter than {offset} bytes.");
            if ((long)(state.Size ?? 0) > offset)
                await client.SetStatAsync(temp, new SftpAttributes { Size = (ulong)offset }, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var temp = PartFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata);
        var upload = await OpenUploadAsync(temp, metadata, cancellationToken).ConfigureAwait(false);
        try
        {
            await RunOnAsync(upload.Client, async client =>
            {
                await client.WriteAsync(upload.Handle, offset, chunk, cancellationToken).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ServiceException or OperationCanceledException)
        {
            // What the server holds is unknown now: the next chunk or restart opens the file again.
            await CloseUploadAsync(temp).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = PartFor(target, metadata);
        var upload = await OpenUploadAsync(temp, metadata, cancellationToken).ConfigureAwait(false);
        _uploads.TryRemove(new KeyValuePair<string, OpenUpload>(temp, upload));
        await RunOnAsync(upload.Client, async client =>
        {
            await CommitAsync(client, metadata, upload.Handle, size: null, temp, target, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var temp = PartFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata);
        await CloseUploadAsync(temp).ConfigureAwait(false);
        await RunAsync(client => TryRemoveAsync(client, temp), cancellationToken).ConfigureAwait(false);
    }

    // The open handle of a chunked upload: kept from an earlier chunk, or the temporary file opened again (after a
    // restart, or when the session that held it was lost).
    private async Task<OpenUpload> OpenUploadAsync(string temp, Metadata metadata, CancellationToken cancellationToken)
    {
        if (_uploads.TryGetValue(temp, out var upload))
        {
            if (upload.Client.IsOpen) return upload;
            _uploads.TryRemove(new KeyValuePair<string, OpenUpload>(temp, upload));
        }
        return await RunAsync(async client =>
        {
            SftpHandle handle;
            try
            {
                handle = await client.OpenAsync(temp, SftpOpenFlags.Write, null, cancellationToken).ConfigureAwait(false);
            }
            catch (RemoteFileNotFoundException e)
            {
                throw new UploadNotResumableException($"The partial upload of {metadata} is gone.", e);
            }
            var opened = new OpenUpload(client, handle);
            _uploads[temp] = opened;
            return opened;
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task CloseUploadAsync(string temp)
    {
        if (_uploads.TryRemove(temp, out var upload) && upload.Client.IsOpen)
            await upload.Client.CloseQuietlyAsync(upload.Handle).ConfigureAwait(false);
    }

    // Finishes writing the temporary file and makes it the target atomically, unless the target changed since the
    // revision the engine knows: then the temporary file is dropped, the change reported and ContentChangedException
    // thrown. The target's stat goes out with the last requests on the temporary file (one round trip for both),
    // under the target's lock like the rename. A failure removes a whole-file upload's temporary file (unless the
    // connection is lost: a later scan removes it); a chunked upload's is kept so that the upload can resume.
    // size: the bytes written by a whole-file upload; null for a chunked one (asked from the server).
    private async Task CommitAsync(SftpClient client, Metadata metadata, SftpHandle handle, ulong? size, string temp, string target, CancellationToken cancellationToken)
    {
        SftpAttributes? current;
        using (await LockAsync(target, cancellationToken).ConfigureAwait(false))
        {
            var finishing = FinishWritingAsync(client, handle, CommitTime(metadata), size, cancellationToken);
            var stat = TryStatAsync(client, target, cancellationToken);
            SftpAttributes written;
            try
            {
                written = await finishing.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not SshConnectionException)
            {
                await stat.WhenSettled().ConfigureAwait(false);
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
                if (size is not null) await TryRemoveAsync(client, temp).ConfigureAwait(false);
                throw;
            }
            current = await stat.ConfigureAwait(false);
            if (current is null || Revision(current) == metadata.Revision)
            {
                if (current?.ModifiedTime >= written.ModifiedTime)
                {
                    // The server's clock is ahead of the revision's: step past the replaced file's time anyway.
                    var time = current.ModifiedTime.Value + 1;
                    await client.SetStatAsync(temp, new SftpAttributes { AccessTime = time, ModifiedTime = time }, cancellationToken).ConfigureAwait(false);
                    written = written with { AccessTime = time, ModifiedTime = time };
                }
                RecordOwn(target, Revision(written));
                await client.PosixRenameAsync(temp, target, cancellationToken).ConfigureAwait(false);
                Apply(written, metadata);
                return;
            }
        }
        await TryRemoveAsync(client, temp).ConfigureAwait(false);
        throw await ReportChangedAsync("write", metadata, current, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ContentChangedException> ReportChangedAsync(string action, Metadata expected, SftpAttributes actual, CancellationToken cancellationToken)
    {
        var revision = Revision(actual);
        await _plug.UpdateFileAsync(ToMetadata(expected.Folder, expected.Path, actual), cancellationToken).ConfigureAwait(false);
        return new ContentChangedException(
            $"Refused to {action} {expected}: it changed on the server (revision {revision}, expected {expected.Revision ?? "none"}).");
    }

    private static async Task TryRemoveAsync(SftpClient client, string path)
    {
        try
        {
            await client.RemoveAsync(path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ServiceException)
        {
            // Best effort: a leftover temporary file is hidden and reused.
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        await RunAsync(async client =>
        {
            SftpAttributes? current;
            using (await LockAsync(target, cancellationToken).ConfigureAwait(false))
            {
                current = await TryStatAsync(client, target, cancellationToken).ConfigureAwait(false);
                if (current is null) return;
                if (Revision(current) == metadata.Revision)
                {
                    RecordOwn(target, null);
                    try
                    {
                        await client.RemoveAsync(target, cancellationToken).ConfigureAwait(false);
                    }
                    catch (RemoteFileNotFoundException)
                    {
                        return;
                    }
                    current = null;
                }
            }
            if (current is not null) throw await ReportChangedAsync("delete", metadata, current, cancellationToken).ConfigureAwait(false);
            await RemoveEmptyParentsAsync(client, metadata.Folder, target, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        var from = await ResolveAsync(source, cancellationToken).ConfigureAwait(false);
        var to = await ResolveAsync(destination, cancellationToken).ConfigureAwait(false);
        await RunAsync(async client =>
        {
            (Metadata, SftpAttributes)? refused = null;
            var first = string.CompareOrdinal(from, to) <= 0 ? from : to;
            var second = ReferenceEquals(first, from) ? to : from;
            using (await LockAsync(first, cancellationToken).ConfigureAwait(false))
            using (first == second ? null : await LockAsync(second, cancellationToken).ConfigureAwait(false))
            {
                var moved = await TryStatAsync(client, from, cancellationToken).ConfigureAwait(false)
                    ?? throw new RemoteFileNotFoundException($"Cannot move {source}: {from} is not there any more.");
                if (Revision(moved) != source.Revision)
                {
                    refused = (source, moved);
                }
                else if (from != to && await TryStatAsync(client, to, cancellationToken).ConfigureAwait(false) is { } existing && Revision(existing) != destination.Revision)
                {
                    refused = (destination, existing);
                }
                else if (from != to)
                {
                    await MakeDirectoriesAsync(client, Parent(to), cancellationToken).ConfigureAwait(false);
                    RecordOwn(from, null);
                    RecordOwn(to, Revision(moved));
                    await client.PosixRenameAsync(from, to, cancellationToken).ConfigureAwait(false);
                }
                Apply(moved, destination);
            }
            if (refused is var (file, state))
                throw await ReportChangedAsync("move", file, state, cancellationToken).ConfigureAwait(false);
            if (from != to) await RemoveEmptyParentsAsync(client, source.Folder, from, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the open uploads and the SSH connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var temp in _uploads.Keys) await CloseUploadAsync(temp).ConfigureAwait(false);
        await CloseIdleReadersAsync(TimeSpan.Zero).ConfigureAwait(false);
        for (var i = 0; i < _clients.Length; i++)
        {
            if (Interlocked.Exchange(ref _clients[i], null) is { } client)
                await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
