using static Onitu.Drivers.LocalStorage.DiskOps;

namespace Onitu.Drivers.LocalStorage;

// Reading: whole files as streams, and chunks at an offset; never through a symbolic link.
public sealed partial class LocalStorageDriver
{
    /// <inheritdoc />
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
            throw ReadError(e, metadata, fullPath);
        }
    }

    /// <inheritdoc />
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
            throw ReadError(e, metadata, fullPath);
        }
    }

    private void RefuseLinkedRead(Metadata metadata, string fullPath)
    {
        if (FindLink(metadata, fullPath, "read") is { } link)
            throw new PathRefusedException($"Refused to read {metadata}: {link} is a symbolic link, and Onitu does not read through links.");
    }
}
