namespace Onitu.Transfers;

/// <summary>
/// Caps the bytes per second all transfers together write (like rsync's <c>--bwlimit</c>): a virtual clock
/// advances by <c>bytes / rate</c> per chunk and a transfer that gets ahead of it waits. Unlimited when the rate is 0.
/// </summary>
internal sealed class BandwidthLimiter(long bytesPerSecond, TimeProvider clock)
{
    private readonly Lock _lock = new();
    private DateTimeOffset _nextFree = DateTimeOffset.MinValue;

    public bool IsLimited => bytesPerSecond > 0;

    public async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        if (!IsLimited || bytes <= 0)
            return;
        TimeSpan wait;
        lock (_lock)
        {
            var now = clock.GetUtcNow();
            var start = _nextFree > now ? _nextFree : now;
            _nextFree = start + TimeSpan.FromSeconds((double)bytes / bytesPerSecond);
            wait = start - now;
        }
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, clock, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wraps a whole-file read stream so that it reads no faster than the limit.</summary>
    public Stream Wrap(Stream content) => IsLimited ? new ThrottledStream(content, this) : content;

    private sealed class ThrottledStream(Stream inner, BandwidthLimiter limiter) : ReadOnlyStreamWrapper(inner)
    {
        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            await limiter.WaitAsync(read, cancellationToken).ConfigureAwait(false);
            return read;
        }
    }
}
