namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// One asynchronous lock per full path, created on demand and dropped when unused. Handlers take the locks of the
/// paths they check and change, so that the compare-and-swap of two concurrent calls on one file cannot
/// interleave (the second sees the first's result and refuses, instead of silently overwriting it).
/// </summary>
internal sealed class PathLocks
{
    private readonly Dictionary<string, Gate> _gates = new(Paths.Comparer);
    private readonly Lock _lock = new();

    /// <summary>Waits for the lock of <paramref name="path"/>; dispose the result to release it.</summary>
    public async ValueTask<IDisposable> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        var gate = Enter(path);
        try
        {
            await gate.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(path, gate, release: false);
            throw;
        }
        return new Releaser(this, path, gate);
    }

    /// <summary>Waits for the locks of two paths, always in the same order so that two movers cannot deadlock.</summary>
    public async ValueTask<IDisposable> AcquireAsync(string path, string otherPath, CancellationToken cancellationToken)
    {
        var order = Paths.Comparer.Compare(path, otherPath);
        if (order == 0)
            return await AcquireAsync(path, cancellationToken).ConfigureAwait(false);
        var (first, second) = order < 0 ? (path, otherPath) : (otherPath, path);
        var firstLock = await AcquireAsync(first, cancellationToken).ConfigureAwait(false);
        try
        {
            var secondLock = await AcquireAsync(second, cancellationToken).ConfigureAwait(false);
            return new Both(firstLock, secondLock);
        }
        catch
        {
            firstLock.Dispose();
            throw;
        }
    }

    private Gate Enter(string path)
    {
        lock (_lock)
        {
            if (!_gates.TryGetValue(path, out var gate))
                _gates[path] = gate = new Gate();
            gate.Users++;
            return gate;
        }
    }

    private void Leave(string path, Gate gate, bool release)
    {
        if (release)
            gate.Semaphore.Release();
        lock (_lock)
        {
            if (--gate.Users == 0)
            {
                _gates.Remove(path);
                gate.Semaphore.Dispose();
            }
        }
    }

    private sealed class Gate
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);
        public int Users { get; set; }
    }

    private sealed class Releaser(PathLocks owner, string path, Gate gate) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                owner.Leave(path, gate, release: true);
        }
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            second.Dispose();
            first.Dispose();
        }
    }
}
