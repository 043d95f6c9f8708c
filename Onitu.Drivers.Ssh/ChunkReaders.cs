using System.Collections.Concurrent;
using System.Diagnostics;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>A chunked read's stream, kept between chunks with its read-ahead in flight.</summary>
internal sealed record ChunkReader(SftpReadStream Stream, string? Revision)
{
    public long LastUsed { get; init; } = Stopwatch.GetTimestamp();
}

/// <summary>
/// The streams chunked reads left open for their next chunk, by remote path: a transfer reads a file's chunks in order,
/// so the stream left by the previous chunk continues at the next offset with its read-ahead already in flight, and
/// the pipe does not drain between chunks.
/// </summary>
internal sealed class ChunkReaders
{
    /// <summary>A stream unused this long belongs to a transfer that stopped: its handle and read-ahead go.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, ChunkReader> _readers = new(StringComparer.Ordinal);

    /// <summary>How many streams are kept.</summary>
    public int Count => _readers.Count;

    /// <summary>The stream a previous chunk left at exactly this offset of this revision, if any; any other is closed.</summary>
    public async Task<ChunkReader?> TakeAsync(string path, string? revision, long offset)
    {
        if (!_readers.TryRemove(path, out var reader)) return null;
        if (reader.Revision == revision && reader.Stream.Position == offset && reader.Stream.Client.IsOpen) return reader;
        await reader.Stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    /// <summary>Keeps a stream for the next chunk; false when another is kept for the path already.</summary>
    public bool TryKeep(string path, ChunkReader reader) => _readers.TryAdd(path, reader with { LastUsed = Stopwatch.GetTimestamp() });

    /// <summary>Closes the streams unused for <paramref name="idle"/> (transfers abandoned or failed elsewhere); all of them with zero.</summary>
    public async Task CloseIdleAsync(TimeSpan idle)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (path, reader) in _readers)
        {
            if (Stopwatch.GetElapsedTime(reader.LastUsed, now) >= idle && _readers.TryRemove(new KeyValuePair<string, ChunkReader>(path, reader)))
                await reader.Stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
