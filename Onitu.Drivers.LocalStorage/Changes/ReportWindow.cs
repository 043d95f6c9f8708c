namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Keeps up to <see cref="Capacity"/> plug reports in flight, awaiting the oldest when full, so that a burst of
/// reports reaches the engine together. Reports are for distinct files, so their completion order is irrelevant;
/// the first failure surfaces at the next <see cref="AddAsync"/> or at <see cref="DrainAsync"/>.
/// </summary>
internal sealed class ReportWindow
{
    public const int Capacity = 256;
    private readonly Queue<Task> _pending = new();

    public async ValueTask AddAsync(ValueTask report)
    {
        if (report.IsCompletedSuccessfully)
            return;
        _pending.Enqueue(report.AsTask());
        if (_pending.Count >= Capacity)
            await _pending.Dequeue().ConfigureAwait(false);
    }

    public async ValueTask DrainAsync()
    {
        while (_pending.TryDequeue(out var report))
            await report.ConfigureAwait(false);
    }
}
