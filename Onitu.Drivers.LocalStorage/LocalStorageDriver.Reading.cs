using static Onitu.Drivers.LocalStorage.DiskOps;

namespace Onitu.Drivers.LocalStorage;

// Reading: whole files as streams, and chunks at an offset; never through a symbolic link.
public sealed partial class LocalStorageDriver
{
    /// <inheritdoc />
    /// <exception cref="FolderMissingException">The file is not found, and its folder is lost.</exception>
    public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var fullPath = Resolve(metadata);
        RefuseLinkedRead(metadata, fullPath);
        try
        {
            return ValueTask.FromResult<Stream>(new FileStream(fullPath, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                Options = (IsSmall(metadata) ? FileOptions.None : FileOptions.Asynchronous) | FileOptions.SequentialScan,
                // Unbuffered: readers (the engine's stream copy) read in large blocks already, and a buffer here
                // would be one large-object-heap allocation per file opened.
                BufferSize = 0,
            }));
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw ReadFailure(e, metadata, fullPath);
        }
    }

    /// <inheritdoc />
    /// <exception cref="FolderMissingException">The file is not found, and its folder is lost.</exception>
    public async ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var fullPath = Resolve(metadata);
        RefuseLinkedRead(metadata, fullPath);
        try
        {
            using var handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                total += read;
            }
            return total;
        }
        catch (Exception e) when (IsIoError(e))
        {
            throw ReadFailure(e, metadata, fullPath);
        }
    }

    // A file not found is not gone when its folder is lost (an unmounted disk): the engine takes a file that cannot be
    // read for moving or keeping aside as this service's deletion.
    private ServiceException ReadFailure(Exception e, Metadata metadata, string fullPath)
    {
        if (e is FileNotFoundException or DirectoryNotFoundException)
            _layout.GetFolder(metadata.Folder).Root.Check();
        return ReadError(e, metadata, fullPath);
    }

    private void RefuseLinkedRead(Metadata metadata, string fullPath)
    {
        if (FindLink(metadata, fullPath, "read") is { } link)
            throw new PathRefusedException($"Refused to read {metadata}: {link} is a symbolic link, and Onitu does not read through links.");
    }
}
