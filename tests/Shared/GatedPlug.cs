using Onitu.Testing;

namespace Onitu.Tests;

/// <summary>
/// A plug whose update reports wait until <c>wanted</c> of them are in flight at once (a second at most), for tests that
/// a scan keeps its reports in flight together; it also notes a deletion or move reported while updates were still in
/// flight (a scan must drain its reports before those).
/// </summary>
internal sealed class GatedPlug(ConformancePlug inner, int wanted) : IPlug
{
    private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _most;
    private int _overtaken;

    public ConformancePlug Inner => inner;
    public int MostInFlight => Volatile.Read(ref _most);

    /// <summary>How many deletions and moves were reported while an update report was still in flight.</summary>
    public int Overtaken => Volatile.Read(ref _overtaken);

    public string ServiceName => inner.ServiceName;
    public IReadOnlyList<FolderMapping> Folders => inner.Folders;
    public DriverOptions Options => inner.Options;
    public string BaseDirectory => inner.BaseDirectory;
    public Microsoft.Extensions.Logging.ILogger Logger => inner.Logger;
    public IDriverStateStore State => inner.State;

    public async ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        var now = Interlocked.Increment(ref _inFlight);
        InterlockedMax(now);
        if (now >= wanted)
            _enough.TrySetResult();
        try
        {
            await _enough.Task.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        await inner.UpdateFileAsync(metadata, cancellationToken).ConfigureAwait(false);
        Interlocked.Decrement(ref _inFlight);
    }

    private void InterlockedMax(int value)
    {
        int most;
        while (value > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, value, most) != most)
        {
        }
    }

    public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _inFlight) > 0) Interlocked.Increment(ref _overtaken);
        return inner.DeleteFileAsync(metadata, cancellationToken);
    }

    public ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _inFlight) > 0) Interlocked.Increment(ref _overtaken);
        return inner.MoveFileAsync(source, destination, cancellationToken);
    }

    public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default) =>
        inner.ReportSkippedAsync(folder, path, reason, cancellationToken);
    public ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default) =>
        inner.GetMetadataAsync(folder, path, cancellationToken);
    public IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null, CancellationToken cancellationToken = default) =>
        inner.ListFilesAsync(folder, directory, cancellationToken);
}
