using System.Collections.Concurrent;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Remembers what the driver itself just did to the disk (wrote a file with some revision, deleted or moved one
/// away), so that the watcher and rescans do not report the driver's own work back to the engine as a change made
/// on this service. The engine also ignores a revision it already knows, but only once it has persisted the
/// handler's result, and the watcher can be faster than that.
/// </summary>
/// <remarks>
/// An entry is recorded <em>before</em> the disk changes, so whoever sees the change also sees the entry. A match
/// keeps the entry (one write can be looked at several times: the file's event, its parent directory's event, a
/// rescan) until it expires. A mismatch means someone else changed the file since, and forgets the entry, unless it
/// is so young that the observer may simply have looked before the driver's change landed.
/// </remarks>
internal sealed class OwnChanges
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private const int SweepThreshold = 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(Paths.Comparer);
    private readonly TimeProvider _time;
    private long _lastSweep;

    public OwnChanges(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lastSweep = _time.GetTimestamp();
    }

    /// <summary>How many entries are remembered (for tests).</summary>
    public int Count => _entries.Count;

    /// <summary>Records that the driver is about to make <paramref name="fullPath"/> a file with <paramref name="revision"/>.</summary>
    public void RecordWrite(string fullPath, string revision) => Record(fullPath, revision);

    /// <summary>Records that the driver is about to delete <paramref name="fullPath"/> (or move it away).</summary>
    public void RecordDelete(string fullPath) => Record(fullPath, revision: null);

    /// <summary>Forgets an entry whose change did not happen after all.</summary>
    public void Forget(string fullPath) => _entries.TryRemove(fullPath, out _);

    /// <summary>
    /// Whether the disk state <paramref name="state"/> of <paramref name="fullPath"/> (null: no file) is exactly
    /// what the driver itself produced there, so it must not be reported.
    /// </summary>
    public bool IsOwn(string fullPath, FileState? state)
    {
        if (!_entries.TryGetValue(fullPath, out var entry))
            return false;
        var age = _time.GetElapsedTime(entry.RecordedAt);
        if (age > Lifetime)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(fullPath, entry));
            return false;
        }
        var matches = entry.Revision is null ? state is null : state is { } s && s.Revision == entry.Revision;
        if (!matches && age > Grace)
            _entries.TryRemove(new KeyValuePair<string, Entry>(fullPath, entry));
        return matches;
    }

    private void Record(string fullPath, string? revision)
    {
        var now = _time.GetTimestamp();
        _entries[fullPath] = new Entry(revision, now);
        // Without a watcher running nothing consumes entries; sweep now and then so they cannot pile up. The time is
        // looked at first: the dictionary's Count takes all its locks (contended when many writes land at once), so it
        // is asked at most once per half lifetime.
        if (_time.GetElapsedTime(Interlocked.Read(ref _lastSweep), now) > Lifetime / 2)
        {
            Interlocked.Exchange(ref _lastSweep, now);
            if (_entries.Count <= SweepThreshold)
                return;
            foreach (var pair in _entries)
            {
                if (_time.GetElapsedTime(pair.Value.RecordedAt, now) > Lifetime)
                    _entries.TryRemove(pair);
            }
        }
    }

    private readonly record struct Entry(string? Revision, long RecordedAt);
}
