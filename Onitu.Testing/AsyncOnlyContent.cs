namespace Onitu.Testing;

/// <summary>
/// The content the kit hands to <see cref="IDriver.UploadFileAsync"/>: readable only asynchronously, as a whole file
/// coming from a network store (SFTP) is. A driver that reads it synchronously (<c>Read</c>, <c>CopyTo</c>) would
/// block a thread of the engine's pool on every network round trip; here it gets a <see cref="NotSupportedException"/>
/// and the kit names the fault.
/// </summary>
internal sealed class AsyncOnlyContent(byte[] content) : Stream
{
    private readonly MemoryStream _inner = new(content, writable: false);

    /// <summary>Whether the driver tried a synchronous read.</summary>
    public bool ReadSynchronously { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _inner.Length;
    public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw SynchronousRead();

    public override int Read(Span<byte> buffer) => throw SynchronousRead();

    public override int ReadByte() => throw SynchronousRead();

    public override void CopyTo(Stream destination, int bufferSize) => throw SynchronousRead();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) =>
        _inner.CopyToAsync(destination, bufferSize, cancellationToken);

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>The kit's failure message for a driver that read synchronously.</summary>
    public static string Fault(string path) =>
        $"UploadFileAsync of '{path}' read its content synchronously (Stream.Read or CopyTo); read it with ReadAsync or " +
        "CopyToAsync: content from a network store (SFTP) has no synchronous read, and a thread blocked on one starves the engine's transfers.";

    private NotSupportedException SynchronousRead()
    {
        ReadSynchronously = true;
        return new NotSupportedException("This content can only be read asynchronously (ReadAsync, CopyToAsync), as a file read over the network.");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _inner.Dispose();
        base.Dispose(disposing);
    }
}
