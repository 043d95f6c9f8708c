namespace Onitu.Testing;

/// <summary>
/// A fresh, isolated storage area for one test: the options of a service of the driver under test and the path its
/// folder maps to. Disposing it runs the cleanup (delete the bucket, the remote directory…).
/// </summary>
public sealed class DriverTestArea : IAsyncDisposable
{
    private readonly Func<ValueTask>? _cleanup;
    private int _disposed;

    /// <summary>Creates an area.</summary>
    /// <param name="options">The service options as a setup would give them (string, long, double, bool values).</param>
    /// <param name="folderPath">The path the test folder maps to on this service (the folder mapping's <c>path</c>).</param>
    /// <param name="cleanup">Removes the area; called once, after the test.</param>
    public DriverTestArea(IReadOnlyDictionary<string, object?> options, string folderPath, Func<ValueTask>? cleanup = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(folderPath);
        Options = options;
        FolderPath = folderPath;
        _cleanup = cleanup;
    }

    /// <summary>The service options.</summary>
    public IReadOnlyDictionary<string, object?> Options { get; }

    /// <summary>The folder mapping's path.</summary>
    public string FolderPath { get; }

    /// <summary>
    /// An independent view of the test folder on the store, if the author can provide one (see <see cref="IStoreView"/>):
    /// the kit then checks writes through it and changes files behind the driver's back through it.
    /// </summary>
    public IStoreView? View { get; init; }

    /// <inheritdoc />
    public ValueTask DisposeAsync() =>
        Interlocked.Exchange(ref _disposed, 1) == 0 && _cleanup is not null ? _cleanup() : ValueTask.CompletedTask;
}
