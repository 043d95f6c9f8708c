using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// The SSH driver: syncs directories of an SSH server over SFTP v3, through the system OpenSSH client. Scans and
/// polls the remote directories for changes; every write lands atomically (a hidden temporary file beside the
/// target, then posix-rename), refusing to overwrite or delete a version the engine has not seen.
/// </summary>
/// <remarks>
/// Revisions are <c>{size}-{mtime in seconds}</c>. SFTP v3 times have a one-second resolution, so every write of
/// this driver sets the new file's mtime past the one it replaces: its own rewrites always change the revision.
/// (A same-size rewrite by another program within the same second is missed until the next change.)
/// </remarks>
public sealed class SshDriver : IDriver, IChunkedReader, IChunkedWriter, INativeMove
{
    internal const string TempPrefix = ".onitu-";
    private const int CopyBufferSize = 1024 * 1024;

    private readonly IPlug _plug;
    private readonly SshOptions _options;
    private readonly SftpClient?[] _clients;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string?> _own = new(StringComparer.Ordinal);
    private Dictionary<string, string>? _folders;
    private int _next;
    private int _disposed;

    /// <summary>Creates the driver of one service. Connects on first use.</summary>
    /// <exception cref="DriverException">An option is out of range.</exception>
    public SshDriver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _options = SshOptions.From(plug.Options);
        _clients = new SftpClient?[_options.Connections];
    }

    // ---- Connections ------------------------------------------------------------------------------------------

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
            var client = _clients[slot];
            if (client is null)
            {
                client = await SftpClient.ConnectAsync(_options.Connection, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _clients[slot], client);
            }
            if (_folders is null)
            {
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
        try
        {
            return await operation(client).ConfigureAwait(false);
        }
        catch (SshConnectionException)
        {
            for (var i = 0; i < _clients.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _clients[i], null, client) == client)
                    _ = client.DisposeAsync().AsTask();
            }
            throw;
        }
    }

    private Task RunAsync(Func<SftpClient, Task> operation, CancellationToken cancellationToken) =>
        RunAsync(async c => { await operation(c).ConfigureAwait(false); return true; }, cancellationToken);

    // ---- Paths ------------------------------------------------------------------------------------------------

    private static string Join(string a, string b) => a.EndsWith('/') ? a + b : a + "/" + b;

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

    private static string TempFor(string target, Metadata metadata, string kind) =>
        Join(Parent(target), $"{TempPrefix}{metadata.Fid:N}.{kind}");

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

    private static async Task<SftpAttributes?> TryStatAsync(SftpClient client, string path, CancellationToken cancellationToken)
    {
        try
        {
            var attributes = await client.LStatAsync(path, cancellationToken).ConfigureAwait(false);
            return attributes.IsRegularFile ? attributes : null;
        }
        catch (RemoteFileNotFoundException)
        {
            return null;
        }
    }

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
        try
        {
            while (true)
            {
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
                try
                {
                    await ClientAsync(cancellationToken).ConfigureAwait(false);
                    foreach (var folder in _plug.Folders)
                        await ScanFolderAsync(folder.Name, prepare: false, cancellationToken).ConfigureAwait(false);
                }
                catch (ServiceException e) when (e.IsTransient)
                {
                    _plug.Logger.LogWarning(e, "Polling the SSH server failed; trying again at the next poll");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ScanFolderAsync(string folder, bool prepare, CancellationToken cancellationToken)
    {
        var root = FolderDirectory(folder);
        var known = new Dictionary<string, Metadata>(StringComparer.Ordinal);
        await foreach (var metadata in _plug.ListFilesAsync(folder, cancellationToken: cancellationToken).ConfigureAwait(false))
            known[metadata.Path] = metadata;

        var found = new Dictionary<string, SftpAttributes>(StringComparer.Ordinal);
        var exists = await RunAsync(async client =>
        {
            try
            {
                await WalkAsync(client, root, "", found, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (RemoteFileNotFoundException) when (found.Count == 0)
            {
                return false;
            }
        }, cancellationToken).ConfigureAwait(false);
        if (!exists)
        {
            if (known.Count > 0)
                throw new ServiceException($"The directory of folder '{folder}' ({root}) is missing on the server although this service holds files in it; nothing is reported deleted until it is back.");
            if (prepare) await RunAsync(c => MakeDirectoriesAsync(c, root, cancellationToken), cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var (path, attributes) in found)
        {
            var revision = Revision(attributes);
            var full = Join(root, path);
            known.Remove(path, out var previous);
            if (previous?.Revision == revision) { _own.TryRemove(full, out _); continue; }
            if (_own.TryGetValue(full, out var own) && own == revision) continue;
            await _plug.UpdateFileAsync(ToMetadata(folder, path, attributes), cancellationToken).ConfigureAwait(false);
        }
        foreach (var metadata in known.Values)
        {
            var full = Join(root, metadata.Path);
            if (_own.TryGetValue(full, out var own) && own is null) continue;
            await _plug.DeleteFileAsync(metadata, cancellationToken).ConfigureAwait(false);
        }
        // Own deletions the engine has forgotten are no longer needed.
        foreach (var (full, own) in _own)
        {
            if (own is null && full.StartsWith(root + "/", StringComparison.Ordinal) && !known.ContainsKey(full[(root.Length + 1)..]))
                _own.TryRemove(new KeyValuePair<string, string?>(full, null));
        }
    }

    private static async Task WalkAsync(SftpClient client, string directory, string relative, Dictionary<string, SftpAttributes> found, CancellationToken cancellationToken)
    {
        foreach (var entry in await client.ReadDirectoryAsync(directory, cancellationToken).ConfigureAwait(false))
        {
            if (entry.FileName.StartsWith(TempPrefix, StringComparison.Ordinal)) continue;
            var path = relative.Length == 0 ? entry.FileName : relative + "/" + entry.FileName;
            if (entry.Attributes.IsDirectory)
            {
                try
                {
                    await WalkAsync(client, Join(directory, entry.FileName), path, found, cancellationToken).ConfigureAwait(false);
                }
                catch (RemoteFileNotFoundException)
                {
                    // Removed while listed.
                }
            }
            else if (entry.Attributes.IsRegularFile)
            {
                found[path] = entry.Attributes;
            }
        }
    }

    // ---- Reading ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        var handle = await OpenForReadAsync(client, path, metadata, cancellationToken).ConfigureAwait(false);
        return new SftpReadStream(client, handle);
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
        return await RunAsync(async client =>
        {
            var handle = await OpenForReadAsync(client, path, metadata, cancellationToken).ConfigureAwait(false);
            try
            {
                return await client.ReadAsync(handle, offset, buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    // ---- Writing ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = TempFor(target, metadata, "tmp");
        using (await LockAsync(temp, cancellationToken).ConfigureAwait(false))
        {
            await RunAsync(async client =>
            {
                await MakeDirectoriesAsync(client, Parent(target), cancellationToken).ConfigureAwait(false);
                var handle = await client.OpenAsync(temp, SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Truncate, null, cancellationToken).ConfigureAwait(false);
                try
                {
                    var buffer = new byte[CopyBufferSize];
                    long offset = 0;
                    int read;
                    while ((read = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await client.WriteAsync(handle, offset, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        offset += read;
                    }
                }
                catch
                {
                    await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
                    await TryRemoveAsync(client, temp).ConfigureAwait(false);
                    throw;
                }
                await client.CloseAsync(handle, cancellationToken).ConfigureAwait(false);
                await CommitAsync(client, metadata, temp, target, cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
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
        var temp = TempFor(target, metadata, "part");
        await RunAsync(async client =>
        {
            await MakeDirectoriesAsync(client, Parent(target), cancellationToken).ConfigureAwait(false);
            var handle = await client.OpenAsync(temp, SftpOpenFlags.Write | SftpOpenFlags.Create | SftpOpenFlags.Truncate, null, cancellationToken).ConfigureAwait(false);
            await client.CloseAsync(handle, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var temp = TempFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata, "part");
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
        var temp = TempFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata, "part");
        await RunAsync(async client =>
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
            try
            {
                await client.WriteAsync(handle, offset, chunk, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = TempFor(target, metadata, "part");
        await RunAsync(client => CommitAsync(client, metadata, temp, target, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var temp = TempFor(await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false), metadata, "part");
        await RunAsync(client => TryRemoveAsync(client, temp), cancellationToken).ConfigureAwait(false);
    }

    // Makes the finished temporary file the target atomically, unless the target changed since the revision the
    // engine knows: then the temporary file is dropped, the change reported and ContentChangedException thrown.
    private async Task CommitAsync(SftpClient client, Metadata metadata, string temp, string target, CancellationToken cancellationToken)
    {
        SftpAttributes? current;
        using (await LockAsync(target, cancellationToken).ConfigureAwait(false))
        {
            var written = await TryStatAsync(client, temp, cancellationToken).ConfigureAwait(false)
                ?? throw new UploadNotResumableException($"The partial upload of {metadata} ({temp}) is gone.");
            current = await TryStatAsync(client, target, cancellationToken).ConfigureAwait(false);
            if (current is null || Revision(current) == metadata.Revision)
            {
                // One-second times: step past the replaced file's time so that the revision changes.
                var now = (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                var time = Math.Max(now, current?.ModifiedTime is { } t ? t + 1 : 0);
                await client.SetStatAsync(temp, new SftpAttributes { AccessTime = time, ModifiedTime = time }, cancellationToken).ConfigureAwait(false);
                written = written with { ModifiedTime = time, AccessTime = time };
                _own[target] = Revision(written);
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
                    _own[target] = null;
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
                    _own[from] = null;
                    _own[to] = Revision(moved);
                    await client.PosixRenameAsync(from, to, cancellationToken).ConfigureAwait(false);
                }
                Apply(moved, destination);
            }
            if (refused is var (file, state))
                throw await ReportChangedAsync("move", file, state, cancellationToken).ConfigureAwait(false);
            if (from != to) await RemoveEmptyParentsAsync(client, source.Folder, from, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the SSH connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        for (var i = 0; i < _clients.Length; i++)
        {
            if (Interlocked.Exchange(ref _clients[i], null) is { } client)
                await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
