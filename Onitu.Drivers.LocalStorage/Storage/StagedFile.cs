using Microsoft.Win32.SafeHandles;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The temporary file of an upload (a whole-file write's, or a chunked upload's partial file) in a folder's held staging
/// directory (<see cref="StagingDirectory"/>): created, reopened, looked at, renamed into place and removed relative to
/// the directory's descriptor, never by its path.
/// </summary>
internal sealed class StagedFile(StagingDirectory directory, StagingDirectory.Lease lease, string name) : IDisposable
{
    private const int EEXIST = 17;
    private StagingDirectory.Lease _lease = lease;

    /// <summary>The file's name in the staging directory.</summary>
    public string Name => name;

    /// <summary>Its full path, for messages and as the key of its lock.</summary>
    public string FullPath { get; } = Path.Join(directory.FullPath, name);

    /// <summary>The descriptor of the directory holding it.</summary>
    public int DirectoryFd => _lease.Fd;

    /// <summary>
    /// Creates the file anew with the permission bits <paramref name="mode"/> (less the umask), open for writing, and
    /// returns its descriptor: a leftover of an earlier attempt is removed first (made anew, not truncated; see
    /// <see cref="DiskOps.CreateFresh{T}"/>), and a staging directory removed since it was opened is made again.
    /// </summary>
    /// <exception cref="StagingLostException">The staging directory was removed, and a link or a file now holds its name.</exception>
    /// <exception cref="IOException">The file cannot be made.</exception>
    public int Create(uint mode)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return AnchoredPaths.CreateFileAt(_lease.Fd, name, mode, FullPath);
            }
            catch (DirectoryNotFoundException) when (attempt < 2)
            {
                var fresh = directory.Reopen(_lease)
                    ?? throw new StagingLostException($"The staging directory {directory.FullPath} was removed, and something else than a directory holds its name now.");
                _lease.Dispose();
                _lease = fresh;
            }
            catch (IOException e) when (e.HResult == EEXIST && attempt < 2)
            {
                AnchoredPaths.TryDeleteAt(_lease.Fd, name);
            }
        }
    }

    /// <summary>Opens the file for writing, without following a link of its name (a chunked upload resumed).</summary>
    /// <exception cref="UploadNotResumableException">It is gone (or its directory was removed).</exception>
    /// <exception cref="IOException">It cannot be opened.</exception>
    public int OpenExisting()
    {
        try
        {
            return AnchoredPaths.OpenFileAt(_lease.Fd, name, FullPath);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException)
        {
            throw new UploadNotResumableException($"The partial upload {FullPath} is gone.", e);
        }
    }

    /// <summary>Flushes the file to disk (<c>fsync</c>), opened again relative to its directory.</summary>
    /// <exception cref="UploadNotResumableException">It is gone.</exception>
    public void FlushToDisk()
    {
        using var file = new FileStream(new SafeFileHandle(OpenExisting(), ownsHandle: true), FileAccess.Write, bufferSize: 0);
        file.Flush(flushToDisk: true);
    }

    /// <summary>The state of what was written; null when it is gone (or no regular file).</summary>
    /// <exception cref="IOException">It cannot be looked at.</exception>
    public FileState? State() => FileState.From(NativeStat.StatAt(_lease.Fd, name, FullPath));

    /// <summary>A rename from the staging directory was refused as crossing mounts (see <see cref="StagingDirectory.MountsChanged"/>).</summary>
    public void MountsChanged() => directory.MountsChanged();

    /// <summary>Removes the file if it is there (best effort: a leftover is swept at a later start).</summary>
    public void TryDelete() => AnchoredPaths.TryDeleteAt(_lease.Fd, name);

    /// <summary>Releases the staging directory.</summary>
    public void Dispose() => _lease.Dispose();
}

/// <summary>
/// The staging directory was removed and cannot be made again (a link or a file holds its name): nothing was created,
/// and the write is staged beside its target instead, as when the name was taken before.
/// </summary>
internal sealed class StagingLostException(string message) : IOException(message);
