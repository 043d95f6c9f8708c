using System.Globalization;
using Onitu.Drivers.Ssh.Sftp;
using Onitu.Drivers.Toolkit;
using static Onitu.Drivers.Ssh.RemoteFiles;
using static Onitu.Drivers.Ssh.RemoteLayout;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// The SSH driver: syncs directories of an SSH server over SFTP v3, through the system OpenSSH client. Scans and
/// polls the remote directories for changes; every write lands atomically (a hidden temporary file beside the
/// target, then posix-rename), refusing to overwrite or delete a version the engine has not seen.
/// </summary>
/// <remarks>
/// <para>
/// Revisions are <c>{size}-{mtime in seconds}</c>. A written file gets its source's time (as <c>rsync -a</c>) when
/// that lies in the past of the server's own clock (read back in the same round trip), else keeps the server's time
/// at the write; either is moved one second past the file it replaces when not later than it: this driver's own
/// rewrites always change the revision. SFTP v3 times have a one-second resolution, so a same-size rewrite by another
/// program within the second of a recorded revision keeps it: the engine re-checks such racily clean files by content
/// at the next scan (<see cref="ITimestampResolution"/>). A time in the server's past cannot be stamped again by a
/// later write (only set back, as <c>touch -d</c> does), so a file uploaded from an older source is not racy.
/// </para>
/// <para>
/// The driver's jobs are apart: <see cref="SshConnectionPool"/> (the SFTP sessions), <see cref="RemoteLayout"/>
/// (folders and temporary names on the server), <see cref="RemoteChangePoller"/> (scan and poll),
/// <see cref="UploadSessions"/> and <see cref="ChunkReaders"/> (handles kept open between chunks); this class holds
/// the handlers, with their compare-and-swap under per-path locks.
/// </para>
/// </remarks>
public sealed class SshDriver : IDriver, IChunkedReader, IChunkedWriter, INativeMove, IFileStat, ITimestampResolution, ITransferConcurrency
{
    // Echo records outlive any poll that could still report the change they describe.
    private static readonly TimeSpan OwnChangeLifetime = TimeSpan.FromMinutes(10);

    private const int MaxReadAhead = 16 * 1024 * 1024;

    // Consecutive failed polls after which the server counts as unreachable rather than briefly disconnected.
    private const int PollFailuresBeforeFailing = 3;

    private readonly IPlug _plug;
    private readonly SshOptions _options;
    private readonly SshConnectionPool _pool;
    private readonly RemoteLayout _layout = new();
    private readonly RemoteLinks _links = new();
    private readonly RemoteDirectories _directories;
    private readonly PathLocks _locks = new();
    private readonly OwnChanges _own = new(OwnChangeLifetime);
    private readonly UploadSessions _uploads;
    private readonly ChunkReaders _readers = new();
    private readonly RemoteChangePoller _poller;
    private int _disposed;

    /// <summary>Creates the driver of one service. Connects on first use.</summary>
    /// <exception cref="DriverException">An option is out of range.</exception>
    public SshDriver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _options = SshOptions.From(plug.Options, plug.BaseDirectory);
        _pool = new SshConnectionPool(_options.Connection, _options.Connections,
            (client, cancellationToken) => _layout.InitializeAsync(plug, _options.Root, client, cancellationToken));
        _directories = new RemoteDirectories(_links);
        _uploads = new UploadSessions(_pool);
        _poller = new RemoteChangePoller(plug, _options, _pool, _layout, _own);
    }

    /// <summary>How many chunked reads keep their stream open for the next chunk, for tests.</summary>
    internal int OpenChunkReaders => _readers.Count;

    /// <summary>The ssh process ids of the open connections, for tests that cut them.</summary>
    internal IReadOnlyList<int> ConnectionProcessIds => _pool.ProcessIds;

    /// <summary>How many SFTP requests the open connections carried, for tests that count round trips.</summary>
    internal long RequestCount => _pool.RequestCount;

    private async Task<string> ResolveAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        await _pool.ClientAsync(cancellationToken).ConfigureAwait(false);
        return _layout.PathOf(metadata);
    }

    /// <summary>
    /// SFTP v3 times are whole seconds; one more second allows for the server's clock lagging the engine's, against
    /// which the engine judges how recent a time is.
    /// </summary>
    private static readonly TimeSpan Resolution = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public TimeSpan GetTimestampResolution(Metadata file) => Resolution;

    /// <summary>
    /// The <c>transfers</c> option: a small file costs three round trips (open; its writes, attributes, close and the
    /// target's stat together; the rename), so many files go at once. They share the pool's sessions: no transfer
    /// holds a connection, and every request is tagged with its id.
    /// </summary>
    public int ConcurrentTransfers => _options.Transfers;

    private async Task RemoveEmptyParentsAsync(SftpClient client, string folder, string path, CancellationToken cancellationToken)
    {
        var root = _layout.FolderDirectory(folder);
        for (var directory = Parent(path); directory.Length > root.Length && directory.StartsWith(root + "/", StringComparison.Ordinal); directory = Parent(directory))
        {
            try
            {
                // RMDIR does not follow a link of that name (it fails); the directories above were looked at by the
                // change that emptied this one, just before.
                await client.RemoveDirectoryAsync(directory, cancellationToken).ConfigureAwait(false);
            }
            catch (ServiceException)
            {
                return; // not empty (or gone): stop
            }
            _links.Removed(directory);
        }
    }

    // ---- Scan and watch -------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        await _pool.ClientAsync(cancellationToken).ConfigureAwait(false);
        await _poller.ScanAsync(cancellationToken).ConfigureAwait(false);
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
                    await _pool.ClientAsync(cancellationToken).ConfigureAwait(false);
                    await _readers.CloseIdleAsync(ChunkReaders.IdleLifetime).ConfigureAwait(false);
                    await _poller.PollAsync(cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }
                catch (ServiceException e) when (e.IsTransient && e is not (SshConnectionException { IsStall: true } or FolderMissingException)
                    && ++failures < PollFailuresBeforeFailing)
                {
                    // A lost connection is reopened by the next poll; a server that stays away ends the watch,
                    // and the engine reports the service failing with the reason and restarts it with backoff. A
                    // stall ends it at once: the link is down for as long as the keep-alives already waited. So does
                    // a folder gone or without its marker: not a blip of the link, and its restart is what looks again
                    // (the engine's check of the markers, then a scan whose deletions its guard judges).
                    Log.PollFailed(_plug.Logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // ---- Reading ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var attributes = await _pool.RunAsync(client => TryStatAsync(client, path, cancellationToken), cancellationToken).ConfigureAwait(false);
        return attributes is null ? null : ToMetadata(metadata.Folder, metadata.Path, attributes);
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        return await _pool.RunAsync<Stream>(async client =>
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
        var reader = await _readers.TakeAsync(path, metadata.Revision, offset).ConfigureAwait(false)
            ?? await _pool.RunAsync(async client =>
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
            if (e is SshConnectionException) _pool.Drop(reader.Stream.Client);
            throw;
        }
        if (read < buffer.Length || !_readers.TryKeep(path, reader))
            await reader.Stream.DisposeAsync().ConfigureAwait(false); // the end of the file, or another reader is kept
        return read;
    }


    // ---- Writing ----------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var root = _layout.FolderDirectory(metadata.Folder);
        var temp = _layout.TempFor(target, metadata);
        await _pool.RunAsync(async client =>
        {
            // Nothing is made through a link: the directories on the way are looked at first (mostly remembered from
            // the files just before, see RemoteLinks). The temporary file's name is new: made exclusively, it is never
            // an existing file or link followed.
            var missing = await RefuseLinkInParentsAsync(client, "write", metadata, root, target, cancellationToken).ConfigureAwait(false);
            var handle = await OpenForWriteAsync(client, metadata, root, temp, target, SftpOpenFlags.Exclusive, missing, cancellationToken).ConfigureAwait(false);
            SentWrites sent;
            try
            {
                sent = await client.SendFromStreamAsync(handle, 0, content, metadata.Size, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
                await TryRemoveAsync(client, temp).ConfigureAwait(false);
                throw;
            }
            // The last writes are still in flight: the requests that end the file follow them at once (one round trip
            // for the content's end, its attributes, the close and the target's stat), and a refused write fails the
            // commit before the rename.
            await CommitAsync(client, metadata, handle, (ulong)sent.Written, root, temp, target, sent.Acknowledged, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    // Opens a temporary file for writing next to its target, creating the target's directories when missing (every
    // upload in flight into a new directory finds it missing: told by the reply, not by an exception per file). The
    // caller looked at the directories on the way for links first (parentMissing: that look found one missing, so it
    // is made before the file is opened, saving an open bound to fail); one met while making them is refused.
    private async Task<SftpHandle> OpenForWriteAsync(SftpClient client, Metadata metadata, string root, string temp, string target, SftpOpenFlags extra,
        bool parentMissing, CancellationToken cancellationToken)
    {
        var flags = SftpOpenFlags.Write | SftpOpenFlags.Create | extra;
        if (!parentMissing && await client.TryOpenAsync(temp, flags, null, cancellationToken).ConfigureAwait(false) is { } handle)
            return handle;
        try
        {
            await _directories.EnsureAsync(client, root, Parent(target), cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteLinkException e)
        {
            throw await RefuseThroughLinkAsync("write", metadata, e.Link, cancellationToken).ConfigureAwait(false);
        }
        return await client.OpenAsync(temp, flags, null, cancellationToken).ConfigureAwait(false);
    }

    // Ends writing a temporary file: flushes it when asked, reads its attributes back and closes it, all in flight
    // together, behind its last writes if they are still in flight (writes: their acknowledgements, the first step
    // awaited so that a refused write is the error reported). The server handles the requests of one handle in the
    // order they came (draft-ietf-secsh-filexfer-02; OpenSSH's server handles every request in order), so the
    // attributes are those of the whole content, and the mtime read back is the server's own clock at the last write:
    // "later write wins" compares each store's own times (this process's clock is never stamped on the server). The
    // close is always sent, even when cancelled, and never repeated: a server reuses a closed handle's value for the
    // next file opened, which may be another upload's on the same session.
    // size: the bytes written by a whole-file upload; null for a chunked one (asked from the server).
    // stamp: the source's time to give the file (see SourceTime), sent behind the stat, so that the stat still reads
    // the server's own clock at the last write, against which CommitAsync checks that the stamp lies in its past.
    private async Task<SftpAttributes> FinishWritingAsync(SftpClient client, SftpHandle handle, ulong? size, Task writes, uint? stamp, CancellationToken cancellationToken)
    {
        var steps = new List<Task>(5) { writes };
        if (_options.Fsync)
        {
            if (client.HasExtension(SftpExtensions.Fsync)) steps.Add(client.FsyncAsync(handle, cancellationToken));
            else Log.NoFsync(_plug.Logger);
        }
        var stat = client.FStatAsync(handle, cancellationToken);
        steps.Add(stat);
        if (stamp is { } time)
            steps.Add(client.FSetStatAsync(handle, new SftpAttributes { AccessTime = time, ModifiedTime = time }, cancellationToken));
        steps.Add(client.CloseAsync(handle, CancellationToken.None));
        await Task.WhenAll(steps).ConfigureAwait(false);
        var attributes = await stat.ConfigureAwait(false);
        return new SftpAttributes { Size = size ?? attributes.Size, AccessTime = attributes.AccessTime, ModifiedTime = attributes.ModifiedTime };
    }

    /// <summary>
    /// The time a written file is given instead of the server's clock at the write: the source's modification time (as
    /// <c>rsync -a</c> keeps it), when that lies far enough in the past for the engine to trust the revision without
    /// reading the content again (older than <see cref="Resolution"/>); null otherwise (the server's own time stays).
    /// A time in the past is what makes the revision safe: any later write on the server stamps the server's clock,
    /// at least one second past it, so the revision changes. CommitAsync checks that against the server's own clock.
    /// </summary>
    private static uint? SourceTime(Metadata metadata)
    {
        if (metadata.ModifiedAt is not { } modified || modified + Resolution > DateTimeOffset.UtcNow) return null;
        var seconds = modified.ToUnixTimeSeconds();
        return seconds is > 0 and < uint.MaxValue ? (uint)seconds : null;
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
        var root = _layout.FolderDirectory(metadata.Folder);
        var temp = _layout.PartFor(target, metadata);
        await _uploads.CloseAsync(temp).ConfigureAwait(false);
        await _pool.RunAsync(async client =>
        {
            var missing = await RefuseLinkInParentsAsync(client, "write", metadata, root, target, cancellationToken).ConfigureAwait(false);
            // The partial file's name is stable (so that an upload resumes): one left by an earlier attempt is removed
            // (REMOVE takes a link away, never follows it), and the new one made exclusively.
            if (!missing) await TryRemoveAsync(client, temp).ConfigureAwait(false);
            var handle = await OpenForWriteAsync(client, metadata, root, temp, target, SftpOpenFlags.Exclusive, missing, cancellationToken).ConfigureAwait(false);
            _uploads.Add(temp, client, handle);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var root = _layout.FolderDirectory(metadata.Folder);
        var temp = _layout.PartFor(target, metadata);
        await _uploads.CloseAsync(temp).ConfigureAwait(false);
        await _pool.RunAsync(async client =>
        {
            await RefuseLinkInParentsAsync(client, "write", metadata, root, target, cancellationToken).ConfigureAwait(false);
            // A regular file only (LSTAT): a partial file replaced by a link is not resumable, and starts over.
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
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = _layout.PartFor(target, metadata);
        var upload = await _uploads.OpenAsync(temp, metadata, BeforeReopening(metadata, target, temp, cancellationToken), cancellationToken).ConfigureAwait(false);
        try
        {
            await _pool.RunOnAsync(upload.Client, async client =>
            {
                await client.WriteAsync(upload.Handle, offset, chunk, cancellationToken).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ServiceException or OperationCanceledException)
        {
            // What the server holds is unknown now: the next chunk or restart opens the file again.
            await _uploads.CloseAsync(temp).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var temp = _layout.PartFor(target, metadata);
        var upload = await _uploads.OpenAsync(temp, metadata, BeforeReopening(metadata, target, temp, cancellationToken), cancellationToken).ConfigureAwait(false);
        _uploads.Remove(temp, upload);
        await _pool.RunOnAsync(upload.Client, async client =>
        {
            await CommitAsync(client, metadata, upload.Handle, size: null, _layout.FolderDirectory(metadata.Folder), temp, target, Task.CompletedTask, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var root = _layout.FolderDirectory(metadata.Folder);
        var temp = _layout.PartFor(target, metadata);
        await _uploads.CloseAsync(temp).ConfigureAwait(false);
        await _pool.RunAsync(async client =>
        {
            // Through a link no partial file was ever made (every upload call refuses it), and none is removed.
            if ((await _links.LookAtParentsAsync(client, root, target, cancellationToken).ConfigureAwait(false)).Link is null)
                await TryRemoveAsync(client, temp).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    // What a chunked upload's partial file is checked for before it is opened again by path (after a restart, or when
    // the session holding it was lost): no link on the way, and a regular file (a link in its place is not followed).
    private Func<SftpClient, Task> BeforeReopening(Metadata metadata, string target, string temp, CancellationToken cancellationToken) => async client =>
    {
        await RefuseLinkInParentsAsync(client, "write", metadata, _layout.FolderDirectory(metadata.Folder), target, cancellationToken).ConfigureAwait(false);
        if (await TryStatAsync(client, temp, cancellationToken).ConfigureAwait(false) is null)
            throw new UploadNotResumableException($"The partial upload of {metadata} is gone (or is not a file any more).");
    };

    /// <summary>
    /// Refuses a change whose path on the server passes through a symbolic link below the folder's directory: the path
    /// is reported skipped and <see cref="PathRefusedException"/> thrown, which fails this one job, not the service.
    /// Returns whether a directory on the way is missing.
    /// </summary>
    private async Task<bool> RefuseLinkInParentsAsync(SftpClient client, string action, Metadata metadata, string root, string target, CancellationToken cancellationToken)
    {
        var finding = await _links.LookAtParentsAsync(client, root, target, cancellationToken).ConfigureAwait(false);
        if (finding.Link is { } link)
            throw await RefuseThroughLinkAsync(action, metadata, link, cancellationToken).ConfigureAwait(false);
        return finding.ParentMissing;
    }

    private async Task<PathRefusedException> RefuseThroughLinkAsync(string action, Metadata metadata, string link, CancellationToken cancellationToken)
    {
        Log.RefusedThroughLink(_plug.Logger, action, metadata, link);
        await _plug.ReportSkippedAsync(metadata.Folder, metadata.Path,
            $"{link} is a symbolic link on the server: Onitu never writes, renames or deletes through links, and leaves the link as it is", cancellationToken).ConfigureAwait(false);
        return new PathRefusedException(
            $"Refused to {action} {metadata}: {link} is a symbolic link on the server, and Onitu never writes, renames or deletes through a link (it could lead out of the folder); the link is left as it is.");
    }

    // Finishes writing the temporary file and makes it the target atomically, unless the target changed since the
    // revision the engine knows: then the temporary file is dropped, the change reported and ContentChangedException
    // thrown. The target's stat goes out with the last requests on the temporary file (one round trip for both),
    // under the target's lock like the rename. A failure removes a whole-file upload's temporary file (unless the
    // connection is lost: a later scan removes it); a chunked upload's is kept so that the upload can resume.
    // size: the bytes written by a whole-file upload; null for a chunked one (asked from the server).
    private async Task CommitAsync(SftpClient client, Metadata metadata, SftpHandle handle, ulong? size, string root, string temp, string target, Task writes, CancellationToken cancellationToken)
    {
        SftpAttributes? current;
        string? link;
        IDisposable held;
        try
        {
            held = await _locks.AcquireAsync(target, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Cancelled while another call held the target: the file is not finished, its handle is still open.
            await writes.WhenSettled().ConfigureAwait(false);
            await client.CloseQuietlyAsync(handle).ConfigureAwait(false);
            if (size is not null) await TryRemoveAsync(client, temp).ConfigureAwait(false);
            throw;
        }
        using (held)
        {
            var stamp = SourceTime(metadata);
            var finishing = FinishWritingAsync(client, handle, size, writes, stamp, cancellationToken);
            // Just before the rename, the target itself (a link there is never replaced) and the directories on the way
            // (remembered for a second, else looked at again: a chunked upload's started long ago), with the requests
            // that end the file: no round trip of their own.
            var stat = _links.LookAtAsync(client, root, target, cancellationToken);
            SftpAttributes written;
            try
            {
                written = await finishing.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not SshConnectionException)
            {
                // The close went out with the other steps (never twice: see FinishWritingAsync).
                await Task.WhenAll((Task)finishing, stat).WhenSettled().ConfigureAwait(false);
                if (size is not null) await TryRemoveAsync(client, temp).ConfigureAwait(false);
                throw;
            }
            (link, var found) = await stat.ConfigureAwait(false);
            current = found is { IsRegularFile: true } ? found : null;
            if (link is null && (current is null || Revision(current) == metadata.Revision))
            {
                try
                {
                    // The source's time only if the server's own clock had passed it by a whole second at the write:
                    // then no later write can stamp it again (a server clock behind the engine's by more than the
                    // declared second would otherwise let the engine take a time of the server's present for past).
                    var time = written.ModifiedTime is { } server ? (stamp < server ? stamp : server) : stamp;
                    // A rewrite within the replaced file's second (or a replaced time in the server's future, or a
                    // source time not past the replaced file's): one second past it, so that this driver's own writes
                    // always change the revision.
                    if (current?.ModifiedTime >= time) time = current.ModifiedTime.Value + 1;
                    if (time is { } changed && changed != (stamp ?? written.ModifiedTime))
                        await client.SetStatAsync(temp, new SftpAttributes { AccessTime = changed, ModifiedTime = changed }, cancellationToken).ConfigureAwait(false);
                    if (time is not null) written = written with { AccessTime = time, ModifiedTime = time };
                    _own.RecordWrite(target, Revision(written));
                    await client.PosixRenameAsync(temp, target, cancellationToken).ConfigureAwait(false);
                }
                catch (ServiceException e) when (e is not SshConnectionException)
                {
                    // Refused by the server: not renamed, the target keeps its content.
                    _own.Forget(target);
                    if (size is not null) await TryRemoveAsync(client, temp).ConfigureAwait(false);
                    throw;
                }
                Apply(written, metadata);
                return;
            }
        }
        // The temporary file is removed by path only when its directory is no link (then it was made before the
        // link appeared, through it: it is left where it is rather than deleted through the link).
        if (link is null || link == target) await TryRemoveAsync(client, temp).ConfigureAwait(false);
        if (link is not null)
            throw await RefuseThroughLinkAsync("write", metadata, link, cancellationToken).ConfigureAwait(false);
        throw await ReportChangedAsync("write", metadata, current!, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ContentChangedException> ReportChangedAsync(string action, Metadata expected, SftpAttributes actual, CancellationToken cancellationToken)
    {
        var revision = Revision(actual);
        await _plug.UpdateFileAsync(ToMetadata(expected.Folder, expected.Path, actual), cancellationToken).ConfigureAwait(false);
        return new ContentChangedException(
            $"Refused to {action} {expected}: it changed on the server (revision {revision}, expected {expected.Revision ?? "none"}).");
    }


    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var target = await ResolveAsync(metadata, cancellationToken).ConfigureAwait(false);
        var root = _layout.FolderDirectory(metadata.Folder);
        await _pool.RunAsync(async client =>
        {
            SftpAttributes? current;
            string? link;
            using (await _locks.AcquireAsync(target, cancellationToken).ConfigureAwait(false))
            {
                // The file and every directory on the way, in one round trip: nothing is deleted through a link, nor
                // a link itself.
                (link, var found) = await _links.LookAtAsync(client, root, target, cancellationToken).ConfigureAwait(false);
                current = found is { IsRegularFile: true } ? found : null;
                if (link is null && current is null) return;
                if (link is null && Revision(current!) == metadata.Revision)
                {
                    _own.RecordDelete(target);
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
            if (link is not null) throw await RefuseThroughLinkAsync("delete", metadata, link, cancellationToken).ConfigureAwait(false);
            if (current is not null) throw await ReportChangedAsync("delete", metadata, current, cancellationToken).ConfigureAwait(false);
            await RemoveEmptyParentsAsync(client, metadata.Folder, target, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        var from = await ResolveAsync(source, cancellationToken).ConfigureAwait(false);
        var to = await ResolveAsync(destination, cancellationToken).ConfigureAwait(false);
        var fromRoot = _layout.FolderDirectory(source.Folder);
        var toRoot = _layout.FolderDirectory(destination.Folder);
        await _pool.RunAsync(async client =>
        {
            (Metadata, SftpAttributes)? refused = null;
            (Metadata, string)? linked = null;
            using (await _locks.AcquireAsync(from, to, cancellationToken).ConfigureAwait(false))
            {
                // Both files and every directory on the way to them, all in one round trip: nothing is renamed through
                // a link (a conflict copy renamed aside included), nor a link renamed or replaced.
                var looks = from == to
                    ? [_links.LookAtAsync(client, fromRoot, from, cancellationToken)]
                    : new[] { _links.LookAtAsync(client, fromRoot, from, cancellationToken), _links.LookAtAsync(client, toRoot, to, cancellationToken) };
                await Task.WhenAll(looks).WhenSettled().ConfigureAwait(false);
                var (fromLink, fromFound) = await looks[0].ConfigureAwait(false);
                var (toLink, toFound) = await looks[^1].ConfigureAwait(false);
                if (fromLink is not null || toLink is not null)
                {
                    linked = fromLink is not null ? (source, fromLink) : (destination, toLink!);
                }
                else
                {
                    var moved = fromFound is { IsRegularFile: true } ? fromFound
                        : throw new RemoteFileNotFoundException($"Cannot move {source}: {from} is not there any more.");
                    if (Revision(moved) != source.Revision)
                    {
                        refused = (source, moved);
                    }
                    else if (from != to && toFound is { IsRegularFile: true } existing && Revision(existing) != destination.Revision)
                    {
                        refused = (destination, existing);
                    }
                    else if (from != to)
                    {
                        try
                        {
                            await _directories.EnsureAsync(client, toRoot, Parent(to), cancellationToken).ConfigureAwait(false);
                        }
                        catch (RemoteLinkException e)
                        {
                            linked = (destination, e.Link);
                        }
                        if (linked is null)
                        {
                            _own.RecordDelete(from);
                            _own.RecordWrite(to, Revision(moved));
                            await client.PosixRenameAsync(from, to, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    if (linked is null) Apply(moved, destination);
                }
            }
            if (linked is var (refusedFile, link))
                throw await RefuseThroughLinkAsync("move", refusedFile, link, cancellationToken).ConfigureAwait(false);
            if (refused is var (file, state))
                throw await ReportChangedAsync("move", file, state, cancellationToken).ConfigureAwait(false);
            if (from != to) await RemoveEmptyParentsAsync(client, source.Folder, from, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the open uploads and the SSH connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _pool.Close();
        await _uploads.CloseAllAsync().ConfigureAwait(false);
        await _readers.CloseIdleAsync(TimeSpan.Zero).ConfigureAwait(false);
        await _pool.DisposeAsync().ConfigureAwait(false);
    }
}
