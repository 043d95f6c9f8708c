using Microsoft.Win32.SafeHandles;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The open temporary files of chunked uploads in progress, by fid: opening the file once per upload instead of
/// once per chunk saves two system calls per chunk. A handle that is not here (the process restarted, or the
/// driver was recreated) is reopened from the temporary file, which is what makes uploads resumable.
/// </summary>
internal sealed class OpenUploads : IDisposable
{
    private readonly Dictionary<Guid, SafeFileHandle> _handles = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Creates the temporary file of a new upload and keeps it open.</summary>
    /// <exception cref="IOException">The file exists already (see <see cref="DiskOps.CreateFresh"/>).</exception>
    public void Start(Guid fid, string tempPath)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CloseLocked(fid);
            var handle = File.OpenHandle(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
            TempFiles.Hide(tempPath);
            _handles[fid] = handle;
        }
    }

    /// <summary>Reopens the temporary file of an interrupted upload and cuts it back to <paramref name="offset"/>.</summary>
    /// <exception cref="UploadNotResumableException">The temporary file is gone or shorter than the offset.</exception>
    public void Restart(Guid fid, string tempPath, long offset)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CloseLocked(fid);
            var handle = OpenExisting(tempPath);
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
    public SafeFileHandle Get(Guid fid, string tempPath)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_handles.TryGetValue(fid, out var handle) || handle.IsClosed)
                _handles[fid] = handle = OpenExisting(tempPath);
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

    private static SafeFileHandle OpenExisting(string tempPath)
    {
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
