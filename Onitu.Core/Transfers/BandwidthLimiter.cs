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
        var wait = Reserve(bytes);
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, clock, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Paces a synchronous reader by sleeping its own thread (real time, whatever the clock): what a synchronous
    /// caller of a throttled stream asks for, and it waits for nothing another thread must run.
    /// </summary>
    public void Wait(int bytes)
    {
        var wait = Reserve(bytes);
        if (wait > TimeSpan.Zero)
            Thread.Sleep(wait);
    }

    // Books the bytes on the virtual clock; returns how long the caller is ahead of it.
    private TimeSpan Reserve(int bytes)
    {
        if (!IsLimited || bytes <= 0)
            return TimeSpan.Zero;
        lock (_lock)
        {
            var now = clock.GetUtcNow();
            var start = _nextFree > now ? _nextFree : now;
            _nextFree = start + TimeSpan.FromSeconds((double)bytes / bytesPerSecond);
            return start - now;
        }
    }

    /// <summary>Wraps a whole-file read stream so that it reads no faster than the limit.</summary>
    public Stream Wrap(Stream content) => IsLimited ? new ThrottledStream(content, this) : content;

    private sealed class ThrottledStream(Stream inner, BandwidthLimiter limiter) : ReadOnlyStreamWrapper(inner)
    {
        // Shipped code reads whole-file content with ReadAsync/CopyToAsync; a third-party driver that reads it
        // synchronously gets synchronous reads all the way down (and a NotSupportedException from a source that
        // only reads asynchronously, such as SFTP), never a thread blocked on a task.
        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = Inner.Read(buffer, offset, count);
            limiter.Wait(read);
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            await limiter.WaitAsync(read, cancellationToken).ConfigureAwait(false);
            return read;
        }
    }
}
