using Onitu.Sync;

namespace Onitu.Transfers;

/// <summary>Feeds what is read through it to a content hash (see <see cref="ContentIdentity.Accumulator"/>).</summary>
internal sealed class HashingReadStream(Stream inner, ContentIdentity.Accumulator hash) : ReadOnlyStreamWrapper(inner)
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = Inner.Read(buffer, offset, count);
        hash.Append(buffer.AsSpan(offset, read));
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        hash.Append(buffer.Span[..read]);
        return read;
    }
}
