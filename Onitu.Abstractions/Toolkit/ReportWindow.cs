namespace Onitu.Drivers.Toolkit;

/// <summary>
/// Keeps several reports to the <see cref="IPlug"/> in flight during a scan, awaiting the oldest when full. The engine
/// commits the reports that queue up together, and a report that needs a content check (a racily clean file, a first
/// pairing) reads the file while the others go on: one report at a time costs a scan of thousands of such files a
/// round trip each, in sequence.
/// </summary>
/// <remarks>
/// Reports in one window must be for distinct files, since their completion order is not theirs to choose. Drain the
/// window before a report whose meaning depends on the earlier ones (deletions after the walk, a move). The first
/// failure surfaces at the next <see cref="AddAsync"/> or at <see cref="DrainAsync"/>. Not thread-safe: one scan uses it.
/// </remarks>
/// <example>
/// <code>
/// var reports = new ReportWindow();
/// foreach (var changed in listing)
///     await reports.AddAsync(plug.UpdateFileAsync(changed, cancellationToken)).ConfigureAwait(false);
/// await reports.DrainAsync().ConfigureAwait(false);
/// </code>
/// </example>
public sealed class ReportWindow
{
    /// <summary>How many reports are kept in flight unless told otherwise.</summary>
    public const int DefaultCapacity = 256;

    private readonly Queue<Task> _pending = new();
    private readonly int _capacity;

    /// <summary>Creates a window of at most <paramref name="capacity"/> reports in flight.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than 1.</exception>
    public ReportWindow(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Adds a report; when the window is full, waits for the oldest one first.</summary>
    public async ValueTask AddAsync(ValueTask report)
    {
        if (report.IsCompletedSuccessfully)
            return;
        _pending.Enqueue(report.AsTask());
        if (_pending.Count >= _capacity)
            await _pending.Dequeue().ConfigureAwait(false);
    }

    /// <summary>Waits for every report in flight.</summary>
    public async ValueTask DrainAsync()
    {
        while (_pending.TryDequeue(out var report))
            await report.ConfigureAwait(false);
    }
}
