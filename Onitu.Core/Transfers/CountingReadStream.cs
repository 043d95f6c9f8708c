namespace Onitu.Transfers;

/// <summary>Reports every read of a whole-file transfer's content as it is handed to the target.</summary>
internal sealed class CountingReadStream(Stream inner, Action<long> counted) : ReadOnlyStreamWrapper(inner)
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = Inner.Read(buffer, offset, count);
        counted(read);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        counted(read);
        return read;
    }
}
