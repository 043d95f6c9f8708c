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

    // An entry per change of the last minute: a sync writing 100,000 files holds them all. Paths compared ordinally
    // (with or without case) are kept as 64-bit hashes and revisions always are, about 70 bytes an entry instead of
    // 250 with the strings. Two paths sharing a hash (less than one chance in a billion among 100,000) lose one record, which
    // reports that write back as it would be without this class; two revisions sharing one never both occur at one
    // path (the inode and the nanoseconds are part of a local revision). Other comparers keep the paths themselves.
    private readonly ConcurrentDictionary<ulong, Entry>? _byHash;
    private readonly ConcurrentDictionary<string, Entry>? _byPath;
    private readonly bool _ignoreCase;
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
        comparer ??= StringComparer.Ordinal;
        if (comparer == StringComparer.Ordinal || comparer == StringComparer.OrdinalIgnoreCase)
        {
            _byHash = new ConcurrentDictionary<ulong, Entry>();
            _ignoreCase = comparer == StringComparer.OrdinalIgnoreCase;
        }
        else
        {
            _byPath = new ConcurrentDictionary<string, Entry>(comparer);
        }
        _time = timeProvider ?? TimeProvider.System;
        _lastSweep = _time.GetTimestamp();
    }

    /// <summary>How many entries are remembered.</summary>
    internal int Count => _byHash?.Count ?? _byPath!.Count;

    /// <summary>Records that the driver is about to make <paramref name="path"/> a file with <paramref name="revision"/>.</summary>
    public void RecordWrite(string path, string revision)
    {
        ArgumentNullException.ThrowIfNull(revision);
        Record(path, revision);
    }

    /// <summary>Records that the driver is about to delete <paramref name="path"/> (or move it away).</summary>
    public void RecordDelete(string path) => Record(path, revision: null);

    /// <summary>Forgets an entry whose change did not happen after all.</summary>
    public void Forget(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_byHash is not null)
            _byHash.TryRemove(PathHash(path), out _);
        else
            _byPath!.TryRemove(path, out _);
    }

    /// <summary>
    /// Whether the state seen at <paramref name="path"/> — a file with <paramref name="revision"/>, or no file when it
    /// is null — is exactly what the driver itself produced there, so it must not be reported.
    /// </summary>
    public bool IsOwn(string path, string? revision)
    {
        ArgumentNullException.ThrowIfNull(path);
        var key = _byHash is not null ? PathHash(path) : 0;
        Entry entry;
        if (!(_byHash is not null ? _byHash.TryGetValue(key, out entry) : _byPath!.TryGetValue(path, out entry)))
            return false;
        var age = _time.GetElapsedTime(entry.RecordedAt);
        var matches = age <= _lifetime && entry.Revision == RevisionHash(revision);
        if (age > _lifetime || (!matches && age > Grace))
        {
            if (_byHash is not null)
                _byHash.TryRemove(new KeyValuePair<ulong, Entry>(key, entry));
            else
                _byPath!.TryRemove(new KeyValuePair<string, Entry>(path, entry));
        }
        return matches;
    }

    private void Record(string path, string? revision)
    {
        ArgumentNullException.ThrowIfNull(path);
        var now = _time.GetTimestamp();
        var entry = new Entry(RevisionHash(revision), now);
        if (_byHash is not null)
            _byHash[PathHash(path)] = entry;
        else
            _byPath![path] = entry;
        // The time is looked at first: the dictionary's Count takes all its locks (contended when many writes land at
        // once), so it is asked at most once per half lifetime.
        if (_time.GetElapsedTime(Interlocked.Read(ref _lastSweep), now) > _lifetime / 2)
        {
            Interlocked.Exchange(ref _lastSweep, now);
            if (Count <= SweepThreshold)
                return;
            if (_byHash is not null)
                Sweep(_byHash, now);
            else
                Sweep(_byPath!, now);
        }
    }

    private void Sweep<TKey>(ConcurrentDictionary<TKey, Entry> entries, long now) where TKey : notnull
    {
        foreach (var pair in entries)
        {
            if (_time.GetElapsedTime(pair.Value.RecordedAt, now) > _lifetime)
                entries.TryRemove(pair);
        }
    }

    private ulong PathHash(string path) => Fnv1a(path, _ignoreCase);

    // 0 stands for a deletion (no file); a revision hashing to 0 is moved off it.
    private static ulong RevisionHash(string? revision) => revision is null ? 0 : Math.Max(1, Fnv1a(revision, ignoreCase: false));

    /// <summary>64-bit FNV-1a over the UTF-16 code units (upper-cased as <see cref="StringComparer.OrdinalIgnoreCase"/> compares, when asked).</summary>
    private static ulong Fnv1a(string text, bool ignoreCase)
    {
        var hash = 14695981039346656037ul;
        foreach (var c in text)
        {
            var unit = ignoreCase ? char.ToUpperInvariant(c) : c;
            hash = (hash ^ (byte)unit) * 1099511628211ul;
            hash = (hash ^ (byte)(unit >> 8)) * 1099511628211ul;
        }
        return hash;
    }

    private readonly record struct Entry(ulong Revision, long RecordedAt);
}
