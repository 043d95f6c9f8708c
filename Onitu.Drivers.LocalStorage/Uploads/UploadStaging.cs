using Onitu.Drivers.Toolkit;
using static Onitu.Drivers.LocalStorage.DiskOps;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Where uploads are written before their atomic rename (see <see cref="TempFiles"/>), and the ids their names carry:
/// the service's writer id, created once and kept in its state so that partial uploads survive a restart, and this
/// driver instance's id.
/// </summary>
internal sealed class UploadStaging(IPlug plug, StorageLayout layout) : IDisposable
{
    private const string WriterIdKey = "writer-id";

    private readonly SemaphoreSlim _writerIdLock = new(1, 1);
    private readonly Dictionary<string, StagingDirectory> _directories =
        layout.Folders.ToDictionary(f => f.Name, f => new StagingDirectory(f), StringComparer.Ordinal);
    private string? _writerId;

    /// <summary>This driver instance's id. Whole-file uploads never resume: any name unique to this instance will do.</summary>
    public string InstanceId { get; } = TempNames.NewId();

    /// <summary>The writer id when it is known already (read from the state, or created by a write); null before.</summary>
    public string? KnownWriterId => Volatile.Read(ref _writerId);

    /// <summary>Reads the writer id from the state if there is one, without creating one (a dry run changes nothing).</summary>
    public async ValueTask LoadWriterIdAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _writerId) is null && await plug.State.GetAsync(WriterIdKey, cancellationToken).ConfigureAwait(false) is { } stored)
            Interlocked.CompareExchange(ref _writerId, stored, null);
    }

    /// <summary>
    /// The path of the temporary file of an upload to <paramref name="target"/>, for the uploads that open it by path
    /// (where <see cref="StageAsync"/> does not stage): in the folder's staging directory, or beside the target when the
    /// two are not on one mount (a rename between them would be a copy, or refused) or the staging directory cannot be
    /// made.
    /// </summary>
    /// <exception cref="FolderMissingException">The folder's directory is missing, not the one scanned, or lost its marker.</exception>
    public async ValueTask<string> TempPathAsync(Metadata metadata, string target, bool whole, CancellationToken cancellationToken)
    {
        var writerId = await WriterIdAsync(cancellationToken).ConfigureAwait(false);
        if (StagingDirectoryFor(layout.GetFolder(metadata.Folder), target) is { } staging)
        {
            return whole
                ? TempFiles.StagedWhole(staging, metadata.Fid, writerId, InstanceId)
                : TempFiles.StagedChunked(staging, metadata.Fid, writerId);
        }
        return whole
            ? TempFiles.ForWholeUpload(target, metadata.Fid, InstanceId)
            : TempFiles.ForChunkedUpload(target, metadata.Fid, writerId);
    }

    /// <summary>
    /// The temporary file of an upload to <paramref name="target"/> (a whole-file write's, or a chunked upload's
    /// partial file) in the folder's held staging directory (<see cref="StagingDirectory"/>); null where it is opened
    /// by path instead (<see cref="TempPathAsync"/>): the staging directory is not held here (no anchored calls), a link
    /// or file holds its name or it cannot be made, or the target is on another mount.
    /// </summary>
    /// <exception cref="FolderMissingException">The folder's directory is missing, not the one scanned, or lost its marker.</exception>
    public async ValueTask<StagedFile?> StageAsync(Metadata metadata, string target, bool whole, CancellationToken cancellationToken)
    {
        if (!StagingDirectory.IsSupported)
            return null;
        var writerId = await WriterIdAsync(cancellationToken).ConfigureAwait(false);
        var folder = layout.GetFolder(metadata.Folder);
        var directory = _directories[folder.Name];
        StagingDirectory.Lease? lease = null;
        try
        {
            lease = directory.Acquire();
            // Nothing mounted in the folder: every target's directory is on the staging directory's mount.
            if (lease is not null && (!lease.MountsBelowFolder || OnMountOf(folder, target, lease.Opened)))
                return new StagedFile(directory, lease, whole
                    ? TempFiles.StagedWholeName(metadata.Fid, writerId, InstanceId)
                    : TempFiles.StagedChunkedName(metadata.Fid, writerId));
        }
        catch (Exception e) when (IsIoError(e))
        {
            // The way by path decides (and fails on its own if the disk is the trouble).
        }
        lease?.Dispose();
        return null;
    }

    /// <summary>The held staging directory of <paramref name="folder"/> (tests).</summary>
    internal StagingDirectory DirectoryOf(string folder) => _directories[folder];

    /// <summary>Closes the held staging directories (once the writes using them are done).</summary>
    public void Dispose()
    {
        foreach (var directory in _directories.Values)
            directory.Dispose();
    }

    private static string? StagingDirectoryFor(StorageFolder folder, string target)
    {
        var staging = folder.StagingDirectory;
        try
        {
            // Looked at on every call (one lstat): a staging directory replaced by a link must not carry writes away.
            // (Where it is held, uploads use it instead: StageAsync.)
            var stagingStat = NativeStat.LStat(staging);
            if (stagingStat.Kind == EntryKind.Missing)
            {
                // In the folder's directory, never with it; the first staging of the folder looks whether that directory
                // is still the one the scan found (as the held staging directory does when it is opened).
                folder.Root.Check();
                folder.MakeDirectory(staging);
                TempFiles.Hide(staging);
                stagingStat = NativeStat.LStat(staging);
            }
            if (stagingStat.Kind != EntryKind.Directory)
                return null; // a user's file or link of that name: stage beside each target instead
            return OnMountOf(folder, target, stagingStat) ? staging : null;
        }
        catch (Exception e) when (IsIoError(e))
        {
            return null; // the write beside the target fails on its own if the disk is the trouble
        }
    }

    // Whether the target would be made on the mount of the staging directory: a rename between two file systems is a
    // copy, not atomic, and between two mounts of one (a bind mount) is refused. The nearest directory of the target
    // that exists decides: the rest is created on its mount.
    private static bool OnMountOf(StorageFolder folder, string target, EntryStat staging)
    {
        for (var directory = Path.GetDirectoryName(target); directory is not null && folder.IsStrictlyInside(directory); directory = Path.GetDirectoryName(directory))
        {
            var stat = NativeStat.LStat(directory);
            if (stat.Kind != EntryKind.Missing)
                return stat.SameMount(staging);
        }
        return true;
    }

    /// <summary>This service's writer id, created once and kept in its state so partial uploads survive a restart.</summary>
    public async ValueTask<string> WriterIdAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _writerId) is { } known)
            return known;
        await _writerIdLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writerId is null)
            {
                var stored = await plug.State.GetAsync(WriterIdKey, cancellationToken).ConfigureAwait(false);
                if (stored is null)
                {
                    stored = TempNames.NewId();
                    await plug.State.SetAsync(WriterIdKey, stored, cancellationToken).ConfigureAwait(false);
                }
                Volatile.Write(ref _writerId, stored);
            }
            return _writerId;
        }
        finally
        {
            _writerIdLock.Release();
        }
    }
}
