using System.Collections.Concurrent;

namespace Onitu.Samples.MemoryDriver;

/// <summary>A named in-memory store of files: every service that names the same store sees the same files.</summary>
public sealed class MemoryStore
{
    private static readonly ConcurrentDictionary<string, MemoryStore> Stores = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MemoryFile> _files = new(StringComparer.Ordinal);
    private long _version;

    private MemoryStore()
    {
    }

    /// <summary>The lock every access to the store takes.</summary>
    internal Lock Sync { get; } = new();

    /// <summary>Incremented by every change; watchers poll it.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The store named <paramref name="name"/>, created empty on first use.</summary>
    /// <param name="name">The store's name.</param>
    public static MemoryStore Get(string name) => Stores.GetOrAdd(name, _ => new MemoryStore());

    /// <summary>Forgets the store named <paramref name="name"/> and its files.</summary>
    /// <param name="name">The store's name.</param>
    public static void Delete(string name) => Stores.TryRemove(name, out _);

    internal bool TryGet(string key, out MemoryFile file) => _files.TryGetValue(key, out file!);

    internal MemoryFile Put(string key, byte[] content, DateTimeOffset modified)
    {
        var file = new MemoryFile(content, (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture), modified);
        _files[key] = file;
        return file;
    }

    internal bool Remove(string key)
    {
        if (!_files.Remove(key))
            return false;
        _version++;
        return true;
    }

    internal List<KeyValuePair<string, MemoryFile>> Under(string prefix) =>
        [.. _files.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))];
}

/// <summary>One version of a file; its content is never changed (a write stores a new one).</summary>
/// <param name="Content">The bytes.</param>
/// <param name="Revision">The store version that wrote it.</param>
/// <param name="Modified">When it was written.</param>
internal sealed record MemoryFile(byte[] Content, string Revision, DateTimeOffset Modified);
