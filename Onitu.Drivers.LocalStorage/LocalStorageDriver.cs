using Microsoft.Win32.SafeHandles;
using Onitu.Drivers.Toolkit;
using static Onitu.Drivers.LocalStorage.DiskOps;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The local storage driver: syncs folders of a local disk. A startup scan reports what changed while Onitu was
/// stopped, a file system watcher reports changes live, and every write lands atomically (a temporary file in the
/// folder's staging directory, then a rename), refusing to overwrite or delete a version the engine has not seen, and
/// to write, rename or delete through a symbolic link. A write never makes a folder's own directory: a folder found
/// missing, replaced or without its marker since the scan is lost (<see cref="FolderMissingException"/>) until a scan
/// finds it again.
/// </summary>
/// <remarks>
/// Revisions are <c>{size}-{last write time in UTC ticks}.{nanoseconds below the tick}-{inode}</c> (without the
/// inode where the system does not give it); those of earlier versions, <c>{size}-{ticks}</c>, still match. Chunked
/// uploads resume from their temporary file (named after the fid) across restarts. Every member is thread-safe.
/// </remarks>
public sealed partial class LocalStorageDriver : IDriver, IChunkedReader, IChunkedWriter, INativeMove, INativeCopy, IFileStat, ITimestampResolution
{
    // cp's size. Writing 1 GiB to ext4 (Linux 6.18) in 1 MiB writes took 1.5-2.0 s of system time, 6-11 s wall, against
    // 0.4-0.5 s and 1.9-2.6 s in 128 KiB writes, nearly all of it in the kernel's copy from the buffer (perf:
    // copy_folio_from_iter_atomic); tmpfs takes the same for both.
    private const int CopyBufferSize = 128 * 1024;

    /// <summary>
    /// Files up to this size are read and written with plain blocking calls: on Unix, asynchronous file I/O is
    /// blocking I/O on the thread pool, and its hand-offs cost more than the I/O of a small local file.
    /// </summary>
    private const int SmallFileSize = 256 * 1024;

    private static bool IsSmall(Metadata metadata) => metadata.Size <= SmallFileSize;

    // rw for all, less the umask: what FileStream creates a file with.
    private const uint NewFileMode = 0x1B6;

    private readonly IPlug _plug;
    private readonly LocalStorageOptions _options;
    private readonly StorageLayout _layout;
    private readonly OwnChanges _ownChanges = new(comparer: Paths.Comparer);
    private readonly PathLocks _locks = new(Paths.Comparer);
    private readonly OpenUploads _uploads = new();
    private readonly FolderScanner _scanner;
    private readonly ChangeMonitor _monitor;
    private readonly WatchReporter _reporter;
    private readonly UploadStaging _staging;
    // One per destination folder: each remembers which source file systems refused a clone into it.
    private readonly Dictionary<string, FileCopy> _copies;
    private int _watching;
    private int _disposed;
    // Scans running now, and whether one has finished: what a single pass needs its own changes recorded for.
    private int _scansRunning;
    private int _scanned;

    /// <summary>Creates the driver of one service. Touches nothing on disk until <see cref="ScanAsync"/>.</summary>
    /// <param name="plug">The service's plug: options, folder mappings, and where changes are reported.</param>
    /// <exception cref="DriverException">An option is out of range, or two folders overlap on disk.</exception>
    public LocalStorageDriver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _options = LocalStorageOptions.From(plug.Options);
        _layout = new StorageLayout(plug.BaseDirectory, _options.Root, plug.Folders, plug.ServiceName);
        _staging = new UploadStaging(plug, _layout);
        _copies = _layout.Folders.ToDictionary(f => f.Name, f => new FileCopy(f.MakeDirectory), StringComparer.Ordinal);
        _scanner = new FolderScanner(plug, _ownChanges, () => _staging.KnownWriterId, _staging.InstanceId);
        _monitor = new ChangeMonitor(_layout.Folders, plug.Logger);
        _reporter = new WatchReporter(plug, _monitor, _scanner, _ownChanges, _options.Debounce);
    }

    /// <inheritdoc />
    /// <exception cref="FolderMissingException">A folder's directory is missing while the engine knows files in it.</exception>
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        // Known before the scan meets temporary files, without creating one (a dry run changes nothing).
        await _staging.LoadWriterIdAsync(cancellationToken).ConfigureAwait(false);
        var present = new List<StorageFolder>(_layout.Folders.Count);
        foreach (var folder in _layout.Folders)
        {
            if (await _scanner.PrepareAsync(folder, cancellationToken).ConfigureAwait(false))
            {
                present.Add(folder);
                if (!_plug.DryRun)
                    Leftovers.SweepStaging(folder, _staging.KnownWriterId, _staging.InstanceId, _plug.Logger);
            }
        }
        // Watch from now on: what changes during the scan or before WatchAsync starts is queued, not lost. A single
        // pass watches nothing (its own writes would only be read back and dropped: an eighth of the CPU of a copy
        // of many small files); a WatchAsync later catches up.
        try
        {
            if (!_plug.DryRun && !_plug.SinglePass)
                _monitor.Start();
        }
        catch (ServiceException e)
        {
            // The scan stands on its own; WatchAsync tries again (and catches up) or reports the failure.
            Log.EarlyWatchFailed(_plug.Logger, e);
        }
        Interlocked.Increment(ref _scansRunning);
        try
        {
            foreach (var folder in present)
                await _scanner.ScanAsync(folder, directory: null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _scanned, 1);
            Interlocked.Decrement(ref _scansRunning);
        }
    }

    /// <summary>
    /// Whether a change the driver makes must be recorded as its own (<see cref="OwnChanges"/>), so that a scan or the
    /// watcher does not report it back. Not once a single pass scanned: nothing looks at the disk again in that pass (it
    /// watches nothing), and a later catch-up scan finds every write of the pass already recorded by the engine, as
    /// the echo it would have been dropped as. An initial sync of 100,000 files otherwise holds 100,000 entries, about
    /// 7 MB, to the end.
    /// </summary>
    internal bool RecordsOwnChanges =>
        !_plug.SinglePass || Volatile.Read(ref _scanned) == 0 || Volatile.Read(ref _scansRunning) > 0;

    private void RecordOwnWrite(string path, string revision)
    {
        if (RecordsOwnChanges)
            _ownChanges.RecordWrite(path, revision);
    }

    private void RecordOwnDelete(string path)
    {
        if (RecordsOwnChanges)
            _ownChanges.RecordDelete(path);
    }

    /// <inheritdoc />
    public TimeSpan GetTimestampResolution(Metadata file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return TimestampResolution.Of(file.ModifiedAt);
    }

    /// <inheritdoc />
    /// <exception cref="FolderMissingException">The file's folder is lost: a file not found there is not gone.</exception>
    public ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var root = _layout.GetFolder(metadata.Folder).Root;
        root.ThrowIfLost();
        if (FileState.TryRead(Resolve(metadata)) is { } state)
            return ValueTask.FromResult<Metadata?>(state.ToMetadata(metadata.Folder, metadata.Path));
        // Reported deleted by the engine's check of a source: only when the folder is there to say so.
        root.Check();
        return ValueTask.FromResult<Metadata?>(null);
    }

    /// <inheritdoc />
    /// <remarks>Returns normally when <paramref name="cancellationToken"/> fires or the driver is disposed.</remarks>
    public async Task WatchAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (Interlocked.CompareExchange(ref _watching, 1, 0) != 0)
            throw new InvalidOperationException("The driver is already watching.");
        try
        {
            if (_monitor.Start())
            {
                // Nothing watched since the last WatchAsync ended (or ever, without a scan): catch up first.
                Log.CatchingUp(_plug.Logger);
                foreach (var folder in _layout.Folders)
                    await _scanner.ScanAsync(folder, directory: null, cancellationToken).ConfigureAwait(false);
            }
            await _reporter.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _monitor.Stop();
            Volatile.Write(ref _watching, 0);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ContentChangedException">The file on disk is not the revision the engine expected; it was reported instead.</exception>
    /// <exception cref="FolderMissingException">The folder is lost: its directory is missing (it is never made by a write), not the one scanned, or without its marker.</exception>
    public ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return WriteThroughTempAsync(metadata, "write", async (temp, staged) =>
        {
            var small = IsSmall(metadata);
            // BufferSize 0: the copy writes in large blocks already. The staged file's descriptor is made without .NET,
            // whose handle is then not marked asynchronous; on Unix that changes nothing (asynchronous writes go to the
            // thread pool either way).
            var file = staged is not null
                ? new FileStream(new SafeFileHandle(staged.Create(NewFileMode), ownsHandle: true), FileAccess.Write, bufferSize: 0, isAsync: false)
                : CreateFresh(temp, () => new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    Share = FileShare.Read,
                    Options = small ? FileOptions.None : FileOptions.Asynchronous,
                    BufferSize = 0,
                }), _layout.GetFolder(metadata.Folder).MakeDirectory);
            await using var disposeFile = file.ConfigureAwait(false);
            // Asynchronous even for a small file: the content may come from a network store (SFTP) whose reads are
            // round trips, or through the bandwidth limit; a synchronous copy would block a pool thread on them.
            await content.CopyToAsync(file, small ? SmallFileSize : CopyBufferSize, cancellationToken).ConfigureAwait(false);
            if (_options.Fsync)
                file.Flush(flushToDisk: true);
        }, cancellationToken);
    }

    /// <summary>The held staging directory of <paramref name="folder"/> (tests).</summary>
    internal StagingDirectory StagingDirectoryOf(string folder) => _staging.DirectoryOf(_layout.GetFolder(folder).Name);

    /// <summary>The copier that writes into <paramref name="folder"/> (tests).</summary>
    internal FileCopy CopierFor(string folder) => _copies[_layout.GetFolder(folder).Name];

    /// <inheritdoc />
    /// <remarks>Any other local storage service: the kernel copies the file (a reflink, or copy_file_range, where it can; see <see cref="FileCopy"/>).</remarks>
    public bool CanCopyFrom(IDriver source) => source is LocalStorageDriver;

    /// <inheritdoc />
    /// <exception cref="ContentChangedException">The file on disk is not the revision the engine expected; it was reported instead.</exception>
    /// <exception cref="FolderMissingException">The folder is lost: its directory is missing (it is never made by a write), not the one scanned, or without its marker.</exception>
    public ValueTask CopyFromAsync(IDriver source, Metadata sourceMetadata, Metadata destination, CancellationToken cancellationToken)
    {
        var from = source is LocalStorageDriver local
            ? local.Resolve(sourceMetadata)
            : throw new ArgumentException("Only another local storage service can be copied from.", nameof(source));
        var copy = _copies[_layout.GetFolder(destination.Folder).Name];
        return WriteThroughTempAsync(destination, "copy to", (temp, staged) =>
        {
            try
            {
                return ValueTask.FromResult<FileState?>(copy.Copy(from, temp, staged, _options.Fsync, cancellationToken));
            }
            catch (FileNotFoundException e) when (string.Equals(e.FileName, from, StringComparison.Ordinal) || !File.Exists(from))
            {
                throw ReadError(e, sourceMetadata, from);
            }
        }, cancellationToken);
    }

    private ValueTask WriteThroughTempAsync(Metadata metadata, string action, Func<string, StagedFile?, ValueTask> fill, CancellationToken cancellationToken) =>
        WriteThroughTempAsync(metadata, action, async (temp, staged) =>
        {
            await fill(temp, staged).ConfigureAwait(false);
            return null;
        }, cancellationToken);

    /// <summary>
    /// A whole-file write: <paramref name="fill"/> writes the hidden temporary file — created relative to the folder's
    /// held staging directory when it is given a <see cref="StagedFile"/>, else by its path — and returns its state if
    /// it has it at hand; the file then replaces the target atomically if the target still has the revision the engine
    /// expects (<see cref="CommitStagedAsync"/>, <see cref="CommitAsync"/>); on any failure the temporary file is removed.
    /// </summary>
    private async ValueTask WriteThroughTempAsync(Metadata metadata, string action, Func<string, StagedFile?, ValueTask<FileState?>> fill, CancellationToken cancellationToken)
    {
        var folder = _layout.GetFolder(metadata.Folder);
        var marker = IsMarker(metadata);
        BeforeWrite(folder, marker);
        await WriteThroughTempCoreAsync(metadata, action, fill, cancellationToken).ConfigureAwait(false);
        if (marker)
            folder.Root.MarkerWritten();
    }

    private static bool IsMarker(Metadata metadata) => metadata.Path == FolderMarker.FileName;

    /// <summary>
    /// Refuses a write to a lost folder (<see cref="FolderRoot"/>). No write makes a folder's missing directory — the
    /// walk to a target makes missing directories below it only — but one: the engine's write of the marker before any
    /// scan of this driver found the folder, which is <c>onitu sync --force</c> confirming a folder as it is (the scan of
    /// a folder in which the engine knows no file makes it too: <see cref="FolderScanner.PrepareAsync"/>). After a scan
    /// found it, a missing directory is a lost folder, even for the marker: the engine writes it then just after the
    /// scan, and a disk unmounted in between must not get a marker on its bare mount point.
    /// </summary>
    private void BeforeWrite(StorageFolder folder, bool marker)
    {
        folder.Root.ThrowIfLost();
        if (marker && !folder.Root.WasFound && !Directory.Exists(folder.Directory))
        {
            Directory.CreateDirectory(folder.Directory);
            Log.FolderCreated(_plug.Logger, folder.Name, folder.Directory);
        }
    }

    private async ValueTask WriteThroughTempCoreAsync(Metadata metadata, string action, Func<string, StagedFile?, ValueTask<FileState?>> fill, CancellationToken cancellationToken)
    {
        var target = Resolve(metadata);
        if (await _staging.StageAsync(metadata, target, whole: true, cancellationToken).ConfigureAwait(false) is { } staged)
        {
            using (staged)
            {
                if (await WriteStagedAsync(metadata, action, staged, target, fill, cancellationToken).ConfigureAwait(false))
                    return;
            }
        }
        var temp = await _staging.TempPathAsync(metadata, target, whole: true, cancellationToken).ConfigureAwait(false);
        // Staged in the folder's staging directory, the content goes nowhere near the target's parents until the
        // commit, whose anchored rename refuses a link among them: looking at each parent first as well only cost
        // a system call per level. A temporary file beside the target is written through those parents: they are
        // looked at before.
        if (!(AnchoredPaths.IsAvailable && _layout.GetFolder(metadata.Folder).IsStaging(temp)))
            await ResolveForChangeAsync(metadata, action, cancellationToken).ConfigureAwait(false);
        // Concurrent whole uploads of one file would share the temporary file: one at a time.
        using var tempLock = await _locks.AcquireAsync(temp, cancellationToken).ConfigureAwait(false);
        try
        {
            var written = await fill(temp, null).ConfigureAwait(false);
            TempFiles.Hide(temp);
            await CommitAsync(metadata, temp, target, written, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (IsIoError(e))
                throw WriteError(e, action, metadata);
            throw;
        }
    }

    // The staged way: the content goes nowhere near the target's parents until the commit, whose walk refuses a link
    // among them, so they are not looked at first (that only cost a system call per level). False when the staging
    // directory was lost before the temporary file was made (nothing of the content read yet): the way by path then.
    private async ValueTask<bool> WriteStagedAsync(Metadata metadata, string action, StagedFile staged, string target,
        Func<string, StagedFile?, ValueTask<FileState?>> fill, CancellationToken cancellationToken)
    {
        // Concurrent whole uploads of one file would share the temporary file: one at a time.
        using var tempLock = await _locks.AcquireAsync(staged.FullPath, cancellationToken).ConfigureAwait(false);
        try
        {
            var written = await fill(staged.FullPath, staged).ConfigureAwait(false) ?? staged.State()
                ?? throw new IOException($"{staged.FullPath} vanished as it was written.");
            await CommitStagedAsync(metadata, staged, target, written, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (StagingLostException)
        {
            return false;
        }
        catch (Exception e)
        {
            staged.TryDelete();
            if (IsIoError(e))
                throw WriteError(e, action, metadata);
            throw;
        }
    }

    /// <inheritdoc />
    public int NegotiateChunkSize(int proposedChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proposedChunkSize);
        return proposedChunkSize; // any size suits a local file
    }

    /// <inheritdoc />
    public async ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var temp = await ChunkedTempAsync(metadata, cancellationToken).ConfigureAwait(false);
        try
        {
            if (temp.Staged is { } staged)
            {
                try
                {
                    _uploads.Start(metadata.Fid, temp.Path, staged);
                    return;
                }
                catch (StagingLostException)
                {
                    // Staged beside the target instead, as every later call of this upload will find.
                }
            }
            var path = temp.Staged is null ? temp.Path : await _staging.TempPathAsync(metadata, Resolve(metadata), whole: false, cancellationToken).ConfigureAwait(false);
            CreateFresh(path, () =>
            {
                _uploads.Start(metadata.Fid, path);
                return true;
            }, _layout.GetFolder(metadata.Folder).MakeDirectory);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "start uploading", metadata);
        }
    }

    /// <inheritdoc />
    public async ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
        using var temp = await ChunkedTempAsync(metadata, cancellationToken).ConfigureAwait(false);
        try
        {
            _uploads.Restart(metadata.Fid, temp.Path, offset, temp.Staged);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "resume uploading", metadata);
        }
        Log.UploadResumed(_plug.Logger, metadata, offset);
    }

    /// <inheritdoc />
    public async ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        using var temp = await ChunkedTempAsync(metadata, cancellationToken).ConfigureAwait(false);
        try
        {
            var handle = _uploads.Get(metadata.Fid, temp.Path, temp.Staged);
            // In writes of CopyBufferSize, not one of the whole chunk (4 MiB by default): see CopyBufferSize.
            for (var written = 0; written < chunk.Length; written += CopyBufferSize)
            {
                var piece = chunk.Slice(written, Math.Min(CopyBufferSize, chunk.Length - written));
                await RandomAccess.WriteAsync(handle, piece, offset + written, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ObjectDisposedException e) when (Volatile.Read(ref _disposed) == 0)
        {
            // Another call ended or aborted this upload while the chunk was on its way.
            throw new ServiceException($"The upload of {metadata} was closed while a chunk was written.", isTransient: true, e);
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            // A partial upload left on a full disk keeps it full until a later sync succeeds: give the space back now.
            _uploads.Close(metadata.Fid);
            var size = temp.Size();
            temp.TryDelete();
            Log.PartialRemovedOnFullDisk(_plug.Logger, metadata, size);
            throw new ServiceException(
                $"No space left on the disk to write a chunk of {metadata}; its partial upload ({size} bytes) was removed to give the space back, and the upload starts over when retried: {e.Message}",
                isTransient: true, e);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "write a chunk of", metadata);
        }
    }

    /// <inheritdoc />
    /// <exception cref="UploadNotResumableException">The partial file is gone.</exception>
    /// <exception cref="ContentChangedException">The file on disk is not the revision the engine expected; it was reported instead.</exception>
    /// <exception cref="FolderMissingException">The folder is lost: its directory is missing (it is never made by a write), not the one scanned, or without its marker.</exception>
    public async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        using var temp = await ChunkedTempAsync(metadata, cancellationToken).ConfigureAwait(false);
        var target = Resolve(metadata);
        _uploads.Close(metadata.Fid);
        try
        {
            if (temp.Staged is { } staged)
            {
                if (_options.Fsync)
                    staged.FlushToDisk();
                var written = staged.State() ?? throw new UploadNotResumableException($"The partial upload of {metadata} ({staged.FullPath}) is gone.");
                await CommitStagedAsync(metadata, staged, target, written, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (_options.Fsync)
                FlushToDisk(temp.Path);
            await CommitAsync(metadata, temp.Path, target, writtenState: null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "finish uploading", metadata);
        }
    }

    /// <inheritdoc />
    public async ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        _uploads.Close(metadata.Fid);
        var target = Resolve(metadata);
        if (await _staging.StageAsync(metadata, target, whole: false, cancellationToken).ConfigureAwait(false) is { } staged)
        {
            using (staged)
                staged.TryDelete();
            return;
        }
        var temp = await _staging.TempPathAsync(metadata, target, whole: false, cancellationToken).ConfigureAwait(false);
        // Through a link no partial file was ever made beside the target (every upload call refuses it), and none is removed.
        if (TempFiles.IsTempPath(temp) && _layout.GetFolder(metadata.Folder).FindLink(Path.GetDirectoryName(target)!) is not null)
            return;
        TryDelete(temp);
    }

    /// <inheritdoc />
    /// <exception cref="ContentChangedException">The file on disk is not the revision the engine expected; it was reported instead.</exception>
    /// <exception cref="FolderMissingException">The folder is lost: its directory is missing (it is never made by a write), not the one scanned, or without its marker.</exception>
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var folder = _layout.GetFolder(metadata.Folder);
        folder.Root.ThrowIfLost();
        var target = await ResolveForChangeAsync(metadata, "delete", cancellationToken).ConfigureAwait(false);
        FileState current;
        try
        {
            using (await _locks.AcquireAsync(target, cancellationToken).ConfigureAwait(false))
            {
                if (FileState.TryRead(target) is not { } state)
                {
                    // Already gone: deleting is idempotent — when the folder is there to say so. A file of a folder whose
                    // disk is unmounted is not gone, and recorded as deleted it would come back as a new file.
                    folder.Root.Check();
                    return;
                }
                current = state;
                if (current.Matches(metadata.Revision))
                {
                    RecordOwnDelete(target);
                    try
                    {
                        AnchoredPaths.Delete(folder, target);
                    }
                    catch
                    {
                        _ownChanges.Forget(target);
                        throw;
                    }
                }
            }
        }
        catch (LinkOnPathException e)
        {
            throw await RefuseThroughLinkAsync("delete", metadata, e.Link, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "delete", metadata);
        }
        // An edit the engine has not seen beats a deletion.
        if (!current.Matches(metadata.Revision))
            throw await ReportChangedAsync("delete", metadata, current, cancellationToken).ConfigureAwait(false);
        folder.RemoveEmptyParents(target);
    }

    /// <inheritdoc />
    /// <exception cref="ContentChangedException">The source or an existing destination is not the revision the engine expected; it was reported instead.</exception>
    /// <exception cref="FolderMissingException">The folder is lost: its directory is missing (it is never made by a write), not the one scanned, or without its marker.</exception>
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        var sourceFolder = _layout.GetFolder(source.Folder);
        sourceFolder.Root.ThrowIfLost();
        _layout.GetFolder(destination.Folder).Root.ThrowIfLost();
        var sourcePath = await ResolveForChangeAsync(source, "move", cancellationToken).ConfigureAwait(false);
        var destinationPath = await ResolveForChangeAsync(destination, "move a file to", cancellationToken).ConfigureAwait(false);
        // Equal by the platform's comparer but spelled differently: a case-only rename on Windows or macOS.
        var sameFile = string.Equals(sourcePath, destinationPath, Paths.Comparison);
        FileState moved;
        (Metadata File, FileState State)? refused = null;
        try
        {
            using (await _locks.AcquireAsync(sourcePath, destinationPath, cancellationToken).ConfigureAwait(false))
            {
                if (FileState.TryRead(sourcePath) is not { } found)
                {
                    // The engine takes a source gone as this service's deletion: only when the folder is there to say so.
                    sourceFolder.Root.Check();
                    throw new RemoteFileNotFoundException($"Cannot move {source}: {sourcePath} is not there any more.");
                }
                moved = found;
                if (!moved.Matches(source.Revision))
                    refused = (source, moved);
                else if (!sameFile && FileState.TryRead(destinationPath) is { } existing && !existing.Matches(destination.Revision))
                    refused = (destination, existing);
                else if (!string.Equals(sourcePath, destinationPath, StringComparison.Ordinal))
                    moved = Move(sourceFolder, sourcePath, _layout.GetFolder(destination.Folder), destinationPath, moved);
            }
        }
        catch (LinkOnPathException e)
        {
            throw await RefuseThroughLinkAsync("move", source, e.Link, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, $"move to {destination}", source);
        }
        if (refused is var (file, state))
            throw await ReportChangedAsync("move", file, state, cancellationToken).ConfigureAwait(false);
        if (!sameFile)
            sourceFolder.RemoveEmptyParents(sourcePath);
        moved.ApplyTo(destination);
    }

    /// <summary>Stops watching and closes open uploads; their partial files stay so they can resume.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _monitor.Dispose();
            _uploads.Dispose();
            _staging.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    // Called with both paths locked.
    private FileState Move(StorageFolder sourceFolder, string sourcePath, StorageFolder destinationFolder, string destinationPath, FileState state)
    {
        RecordOwnDelete(sourcePath);
        RecordOwnWrite(destinationPath, state.Revision);
        try
        {
            AnchoredPaths.Rename(sourceFolder, sourcePath, destinationFolder, destinationPath);
        }
        catch
        {
            _ownChanges.Forget(sourcePath);
            _ownChanges.Forget(destinationPath);
            throw;
        }
        // A rename keeps the state, but a move across file systems is a copy, which may not keep the time.
        var moved = FileState.TryRead(destinationPath) ?? state;
        if (moved != state)
            RecordOwnWrite(destinationPath, moved.Revision);
        return moved;
    }

    /// <summary>
    /// Makes a finished temporary file the target, atomically, unless the target changed since the revision the
    /// engine knows (<paramref name="metadata"/>'s): then the temporary file is dropped, the change is reported and
    /// <see cref="ContentChangedException"/> thrown. <paramref name="writtenState"/> is the temporary file's state when
    /// the writer read it on its open handle; otherwise it is read here.
    /// </summary>
    private async Task CommitAsync(Metadata metadata, string temp, string target, FileState? writtenState, CancellationToken cancellationToken)
    {
        // The rename keeps size and time, so the temporary file's state is the revision written.
        var written = writtenState ?? FileState.TryRead(temp)
            ?? throw new UploadNotResumableException($"The partial upload of {metadata} ({temp}) is gone.");
        var folder = _layout.GetFolder(metadata.Folder);
        FileState? current;
        string? linked;
        using (await _locks.AcquireAsync(target, cancellationToken).ConfigureAwait(false))
        {
            // Looked at again just before the rename: a link may have appeared while the content was written.
            var parentsChecked = !AnchoredPaths.IsAvailable;
            (linked, current) = parentsChecked ? LookAtEveryLevel(metadata, target) : LookAtTarget(metadata, target);
            // A missing target is written even if the engine believed a file was there: an edit beats a deletion.
            if (linked is null && (current is null || current.Value.Matches(metadata.Revision)))
            {
                RecordOwnWrite(target, written.Revision);
                try
                {
                    // Anchored in the parent directory the walk opened: a link on the way, even one appearing since
                    // the look above, is refused.
                    AnchoredPaths.Rename(folder, temp, folder, target, parentsChecked);
                }
                catch (LinkOnPathException e)
                {
                    _ownChanges.Forget(target);
                    linked = e.Link;
                }
                catch
                {
                    _ownChanges.Forget(target);
                    throw;
                }
                if (linked is null)
                {
                    written.ApplyTo(metadata);
                    return;
                }
            }
        }
        TryDelete(temp);
        if (linked is not null)
            throw await RefuseThroughLinkAsync("write", metadata, linked, cancellationToken).ConfigureAwait(false);
        throw await ReportChangedAsync("write", metadata, current!.Value, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="CommitAsync"/> of a file in the held staging directory. The target's directory is opened by the walk
    /// that refuses links (made where missing); the target's state is looked at in that directory and the file renamed
    /// into it from the staging directory's descriptor: the look and the rename are of the same entry, whatever its path
    /// becomes meanwhile, and a state found is the folder's file, never one reached through a link.
    /// </summary>
    private async Task CommitStagedAsync(Metadata metadata, StagedFile staged, string target, FileState written, CancellationToken cancellationToken)
    {
        var folder = _layout.GetFolder(metadata.Folder);
        FileState? current = null;
        string? linked = null;
        using (await _locks.AcquireAsync(target, cancellationToken).ConfigureAwait(false))
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (TryCommitStaged(folder, metadata, staged, target, written, out current))
                    {
                        written.ApplyTo(metadata);
                        return;
                    }
                    linked = current is null ? target : null;
                    break;
                }
                catch (LinkOnPathException e)
                {
                    linked = e.Link;
                    break;
                }
                // A deletion beside may remove the target's directory, empty until the rename, between the walk and the
                // rename (the rename then finds it gone): walked again, as renames are (AnchoredPaths.Rename).
                catch (DirectoryNotFoundException) when (attempt < 5)
                {
                }
            }
        }
        staged.TryDelete();
        if (linked is not null)
            throw await RefuseThroughLinkAsync("write", metadata, linked, cancellationToken).ConfigureAwait(false);
        throw await ReportChangedAsync("write", metadata, current!.Value, cancellationToken).ConfigureAwait(false);
    }

    // One walk, look and rename: false with current null when the target is a link (a rename would replace the user's
    // link), with current set when it is a file the engine does not expect.
    private bool TryCommitStaged(StorageFolder folder, Metadata metadata, StagedFile staged, string target, FileState written, out FileState? current)
    {
        using var parent = AnchoredPaths.OpenParentForWrite(folder, target)
            ?? throw new IOException($"Cannot open the directory of {target}: the system refuses the anchored calls now.");
        var stat = NativeStat.StatAt(parent.Fd, parent.Name, target);
        current = FileState.From(stat);
        if (stat.Kind == EntryKind.Link)
            return false;
        // A missing target is written even if the engine believed a file was there: an edit beats a deletion.
        if (current is { } found && !found.Matches(metadata.Revision))
            return false;
        RecordOwnWrite(target, written.Revision);
        try
        {
            if (AnchoredPaths.RenameAt(staged.DirectoryFd, staged.Name, parent, staged.FullPath, target))
                return true;
            staged.MountsChanged();
            throw new IOException($"Cannot rename {staged.FullPath} to {target}: its directory is on another mount than the staging directory now (retried, it is staged beside the target).");
        }
        catch
        {
            _ownChanges.Forget(target);
            throw;
        }
    }

    // Every parent and the target (where renames are not anchored): the first link, or else the target's state.
    private (string? Link, FileState? Current) LookAtEveryLevel(Metadata metadata, string target) =>
        FindLink(metadata, target, "write") is { } link ? (link, null) : (null, FileState.TryRead(target));

    // The target itself, one lstat: a link there is refused (a rename would replace it); the anchored rename refuses
    // one among the parents. A file the engine does not expect is looked at through every parent before it is
    // reported: through a link, the state read would be some file outside the folder's.
    private (string? Link, FileState? Current) LookAtTarget(Metadata metadata, string target)
    {
        EntryStat stat;
        try
        {
            stat = NativeStat.LStat(target);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw WriteError(e, "write", metadata);
        }
        if (stat.Kind == EntryKind.Link)
            return (target, null);
        var current = FileState.From(stat);
        return current is { } found && !found.Matches(metadata.Revision) ? LookAtEveryLevel(metadata, target) : (null, current);
    }

    private async Task<ContentChangedException> ReportChangedAsync(string action, Metadata expected, FileState actual, CancellationToken cancellationToken)
    {
        Log.ChangedOnDisk(_plug.Logger, action, expected, actual.Revision, expected.Revision);
        await _plug.UpdateFileAsync(actual.ToMetadata(expected.Folder, expected.Path), cancellationToken).ConfigureAwait(false);
        return new ContentChangedException(
            $"Refused to {action} {expected}: it changed on disk (revision {actual.Revision}, expected {expected.Revision ?? "none"}).");
    }

    private string Resolve(Metadata metadata)
    {
        ThrowIfDisposed();
        return _layout.GetFullPath(metadata);
    }

    /// <summary>
    /// Resolves the path of a file about to be written, renamed or deleted, refusing one that passes through a
    /// symbolic link (or is one): the refusal is reported as a skipped path and thrown as
    /// <see cref="PathRefusedException"/>, which fails this one job, not the service.
    /// </summary>
    private async ValueTask<string> ResolveForChangeAsync(Metadata metadata, string action, CancellationToken cancellationToken)
    {
        var fullPath = Resolve(metadata);
        if (FindLink(metadata, fullPath, action) is { } link)
            throw await RefuseThroughLinkAsync(action, metadata, link, cancellationToken).ConfigureAwait(false);
        return fullPath;
    }

    private string? FindLink(Metadata metadata, string fullPath, string action)
    {
        try
        {
            return _layout.GetFolder(metadata.Folder).FindLink(fullPath);
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw action == "read" ? ReadError(e, metadata, fullPath) : WriteError(e, action, metadata);
        }
    }

    private async Task<PathRefusedException> RefuseThroughLinkAsync(string action, Metadata metadata, string link, CancellationToken cancellationToken)
    {
        Log.RefusedThroughLink(_plug.Logger, action, metadata, link);
        await _plug.ReportSkippedAsync(metadata.Folder, metadata.Path,
            $"{link} is a symbolic link: Onitu never writes, renames or deletes through links, and leaves the link as it is", cancellationToken).ConfigureAwait(false);
        return new PathRefusedException(
            $"Refused to {action} {metadata}: {link} is a symbolic link, and Onitu never writes, renames or deletes through a link (it could lead out of the folder); the link is left as it is.");
    }

    private async ValueTask<ChunkedTemp> ChunkedTempAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        _layout.GetFolder(metadata.Folder).Root.ThrowIfLost();
        var target = await ResolveForChangeAsync(metadata, "upload", cancellationToken).ConfigureAwait(false);
        return await _staging.StageAsync(metadata, target, whole: false, cancellationToken).ConfigureAwait(false) is { } staged
            ? new ChunkedTemp(staged.FullPath, staged)
            : new ChunkedTemp(await _staging.TempPathAsync(metadata, target, whole: false, cancellationToken).ConfigureAwait(false), null);
    }

    /// <summary>The partial file of a chunked upload: in the held staging directory (<see cref="Staged"/>), else by path.</summary>
    private readonly record struct ChunkedTemp(string Path, StagedFile? Staged) : IDisposable
    {
        public long Size()
        {
            try
            {
                return (Staged is { } staged ? staged.State() : FileState.TryRead(Path))?.Size ?? 0;
            }
            catch (IOException)
            {
                return 0;
            }
        }

        public void TryDelete()
        {
            if (Staged is { } staged)
                staged.TryDelete();
            else
                DiskOps.TryDelete(Path);
        }

        public void Dispose() => Staged?.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
