using Microsoft.Win32.SafeHandles;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The open temporary files of chunked uploads in progress, by fid: opening the file once per upload instead of
/// once per chunk saves two system calls per chunk. A handle that is not here (the process restarted, or the
/// driver was recreated) is reopened from the temporary file, which is what makes uploads resumable. A file in the
/// held staging directory is made and reopened relative to it (<see cref="StagedFile"/>), never through a link.
/// </summary>
internal sealed class OpenUploads : IDisposable
{
    // rw for all, less the umask, as File.OpenHandle creates a file.
    private const uint NewFileMode = 0x1B6;

    private readonly Dictionary<Guid, SafeFileHandle> _handles = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Creates the temporary file of a new upload and keeps it open.</summary>
    /// <param name="fid">The upload's file.</param>
    /// <param name="tempPath">The temporary file's path.</param>
    /// <param name="staged">The temporary file in the held staging directory, made relative to it; null: by path.</param>
    /// <exception cref="IOException">The file exists already (see <see cref="DiskOps.CreateFresh"/>).</exception>
    public void Start(Guid fid, string tempPath, StagedFile? staged = null)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CloseLocked(fid);
            var handle = staged is not null
                ? new SafeFileHandle(staged.Create(NewFileMode), ownsHandle: true)
                : File.OpenHandle(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
            TempFiles.Hide(tempPath);
            _handles[fid] = handle;
        }
    }

    /// <summary>Reopens the temporary file of an interrupted upload and cuts it back to <paramref name="offset"/>.</summary>
    /// <exception cref="UploadNotResumableException">The temporary file is gone or shorter than the offset.</exception>
    public void Restart(Guid fid, string tempPath, long offset, StagedFile? staged = null)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CloseLocked(fid);
            var handle = OpenExisting(tempPath, staged);
            try
            {
                var length = RandomAccess.GetLength(handle);
                if (length < offset)
                    throw new UploadNotResumableException($"The partial upload {tempPath} holds {length} bytes, fewer than the {offset} to resume after.");
                RandomAccess.SetLength(handle, offset);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            _handles[fid] = handle;
        }
    }

    /// <summary>Returns the open handle of an upload, reopening its temporary file if needed.</summary>
    /// <exception cref="UploadNotResumableException">The temporary file is gone.</exception>
    public SafeFileHandle Get(Guid fid, string tempPath, StagedFile? staged = null)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_handles.TryGetValue(fid, out var handle) || handle.IsClosed)
                _handles[fid] = handle = OpenExisting(tempPath, staged);
            return handle;
        }
    }

    /// <summary>Closes the handle of an upload, if open. The temporary file stays.</summary>
    public void Close(Guid fid)
    {
        lock (_lock)
            CloseLocked(fid);
    }

    /// <summary>Closes every handle; temporary files stay so the uploads can resume later.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var handle in _handles.Values)
                handle.Dispose();
            _handles.Clear();
        }
    }

    private void CloseLocked(Guid fid)
    {
        if (_handles.Remove(fid, out var handle))
            handle.Dispose();
    }

    private static SafeFileHandle OpenExisting(string tempPath, StagedFile? staged)
    {
        if (staged is not null)
            return new SafeFileHandle(staged.OpenExisting(), ownsHandle: true);
        try
        {
            return File.OpenHandle(tempPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UploadNotResumableException($"The partial upload {tempPath} is gone.", e);
        }
    }
}
