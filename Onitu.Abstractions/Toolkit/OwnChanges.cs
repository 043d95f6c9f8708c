using System.Collections.Concurrent;

namespace Onitu.Drivers.Toolkit;

/// <summary>
/// Remembers what a driver itself just did to its store (wrote a file with some revision, deleted or moved one away),
/// so that its watcher or poller does not report the driver's own work back to the engine as a change made on the
/// service. The engine ignores a revision it already knows, but only once it has persisted the handler's result, and
/// a watcher can be faster than that (see "Reports of the driver's own writes" in docs/writing-a-driver.md).
/// </summary>
/// <remarks>
/// Record an entry <em>before</em> the store changes, so whoever sees the change also sees the entry; forget it when
/// the change did not happen after all. A match keeps the entry (one write can be looked at several times: the file's
/// event, its parent directory's, a rescan) until it expires. A mismatch means someone else changed the file since,
/// and forgets the entry, unless it is so young that the observer may simply have looked before the driver's change
/// landed. Expired entries are swept now and then, so a driver whose watcher is not running cannot pile them up.
/// Thread-safe.
/// </remarks>
public sealed class OwnChanges
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private const int SweepThreshold = 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private long _lastSweep;

    /// <summary>Creates the record of one driver.</summary>
    /// <param name="lifetime">
    /// How long an entry is kept: longer than the slowest look at the store that could still report the change (one
    /// minute by default; a poller uses several poll intervals).
    /// </param>
    /// <param name="comparer">When two paths are the same path: ordinal by default.</param>
    /// <param name="timeProvider">The clock (tests pass a manual one).</param>
    public OwnChanges(TimeSpan? lifetime = null, StringComparer? comparer = null, TimeProvider? timeProvider = null)
    {
        _lifetime = lifetime ?? TimeSpan.FromMinutes(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_lifetime, TimeSpan.Zero, nameof(lifetime));
        _entries = new ConcurrentDictionary<string, Entry>(comparer ?? StringComparer.Ordinal);
        _time = timeProvider ?? TimeProvider.System;
        _lastSweep = _time.GetTimestamp();
    }

    /// <summary>How many entries are remembered.</summary>
    internal int Count => _entries.Count;

    /// <summary>Records that the driver is about to make <paramref name="path"/> a file with <paramref name="revision"/>.</summary>
    public void RecordWrite(string path, string revision)
    {
        ArgumentNullException.ThrowIfNull(revision);
        Record(path, revision);
    }

    /// <summary>Records that the driver is about to delete <paramref name="path"/> (or move it away).</summary>
    public void RecordDelete(string path) => Record(path, revision: null);

    /// <summary>Forgets an entry whose change did not happen after all.</summary>
    public void Forget(string path) => _entries.TryRemove(path, out _);

    /// <summary>
    /// Whether the state seen at <paramref name="path"/> — a file with <paramref name="revision"/>, or no file when it
    /// is null — is exactly what the driver itself produced there, so it must not be reported.
    /// </summary>
    public bool IsOwn(string path, string? revision)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!_entries.TryGetValue(path, out var entry))
            return false;
        var age = _time.GetElapsedTime(entry.RecordedAt);
        if (age > _lifetime)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(path, entry));
            return false;
        }
        var matches = entry.Revision is null ? revision is null : revision == entry.Revision;
        if (!matches && age > Grace)
            _entries.TryRemove(new KeyValuePair<string, Entry>(path, entry));
        return matches;
    }

    private void Record(string path, string? revision)
    {
        ArgumentNullException.ThrowIfNull(path);
        var now = _time.GetTimestamp();
        _entries[path] = new Entry(revision, now);
        // The time is looked at first: the dictionary's Count takes all its locks (contended when many writes land at
        // once), so it is asked at most once per half lifetime.
        if (_time.GetElapsedTime(Interlocked.Read(ref _lastSweep), now) > _lifetime / 2)
        {
            Interlocked.Exchange(ref _lastSweep, now);
            if (_entries.Count <= SweepThreshold)
                return;
            foreach (var pair in _entries)
            {
                if (_time.GetElapsedTime(pair.Value.RecordedAt, now) > _lifetime)
                    _entries.TryRemove(pair);
            }
        }
    }

    private readonly record struct Entry(string? Revision, long RecordedAt);
}
