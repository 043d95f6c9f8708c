namespace Onitu.Drivers.Toolkit;

/// <summary>
/// One asynchronous lock per path, created on demand and dropped when nobody holds or waits for it (reference
/// counted: a driver that touches millions of paths keeps only the locks in use). A driver's handlers take the locks
/// of the paths they check and change, so that the compare-and-swap of two concurrent calls on one file cannot
/// interleave: the second sees the first's result and refuses, instead of silently overwriting it.
/// </summary>
/// <remarks>Thread-safe. Not reentrant: a caller holding a path's lock must not wait for it again.</remarks>
/// <example>
/// <code>
/// using (await _locks.AcquireAsync(fullPath, cancellationToken).ConfigureAwait(false))
/// {
///     // compare the store's revision with metadata.Revision, then write or refuse
/// }
/// </code>
/// </example>
public sealed class PathLocks
{
    private readonly Dictionary<string, Gate> _gates;
    private readonly StringComparer _comparer;
    private readonly Lock _lock = new();

    /// <summary>Creates the locks of one driver.</summary>
    /// <param name="comparer">
    /// When two paths are the same path (and the order two locks are taken in): ordinal by default; a
    /// case-insensitive store passes a case-insensitive comparer.
    /// </param>
    public PathLocks(StringComparer? comparer = null)
    {
        _comparer = comparer ?? StringComparer.Ordinal;
        _gates = new Dictionary<string, Gate>(_comparer);
    }

    /// <summary>How many paths have a lock right now (held or waited for).</summary>
    internal int Count
    {
        get
        {
            lock (_lock) return _gates.Count;
        }
    }

    /// <summary>Waits for the lock of <paramref name="path"/>; dispose the result to release it.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first (the lock is not taken).</exception>
    public async ValueTask<IDisposable> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
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

    /// <summary>
    /// Waits for the locks of two paths (a move's source and destination), always in the same order so that two
    /// movers in opposite directions cannot deadlock; one lock when both are the same path. Dispose the result to
    /// release both.
    /// </summary>
    public async ValueTask<IDisposable> AcquireAsync(string path, string otherPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(otherPath);
        var order = _comparer.Compare(path, otherPath);
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
