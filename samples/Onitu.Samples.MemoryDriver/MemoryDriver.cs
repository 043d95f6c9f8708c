namespace Onitu.Samples.MemoryDriver;

/// <summary>
/// A driver over a <see cref="MemoryStore"/>. Files are keyed by their folder mapping's path and their path. It reads
/// in chunks and moves natively; it does not resume uploads (no <see cref="IChunkedWriter"/>).
/// </summary>
public sealed class MemoryDriver : IDriver, IChunkedReader, INativeMove
{
    private readonly IPlug _plug;
    private readonly MemoryStore _store;
    private readonly TimeSpan _poll;
    private readonly Dictionary<string, string> _seen = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reporting = new(1, 1);

    /// <summary>Creates the driver of one service.</summary>
    /// <param name="plug">The service's plug.</param>
    public MemoryDriver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _store = MemoryStore.Get(plug.Options.GetRequiredString("store"));
        _poll = TimeSpan.FromMilliseconds(Math.Max(1, plug.Options.GetInt64("poll-ms", 50)));
    }

    /// <inheritdoc />
    public Task ScanAsync(CancellationToken cancellationToken) => ReportChangesAsync(fromScratch: true, cancellationToken);

    /// <inheritdoc />
    public async Task WatchAsync(CancellationToken cancellationToken)
    {
        var last = _store.Version;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_poll, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var now = _store.Version;
            if (now == last)
                continue;
            last = now;
            await ReportChangesAsync(fromScratch: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) =>
        ValueTask.FromResult<Stream>(new MemoryStream(Find(metadata).Content, writable: false));

    /// <inheritdoc />
    public ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var content = Find(metadata).Content;
        if (offset >= content.Length)
            return ValueTask.FromResult(0);
        var length = (int)Math.Min(buffer.Length, content.Length - offset);
        content.AsMemory((int)offset, length).CopyTo(buffer);
        return ValueTask.FromResult(length);
    }

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(content);
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
        var key = Key(metadata);
        MemoryFile? written = null;
        MemoryFile? changed = null;
        lock (_store.Sync)
        {
            // Compare-and-swap: the file must still be the revision the engine knows (no file: null). A file gone
            // since is written anyway: an edit beats a deletion.
            if (_store.TryGet(key, out var current) && current.Revision != metadata.Revision)
                changed = current;
            else
                written = _store.Put(key, copy.ToArray(), metadata.ModifiedAt ?? DateTimeOffset.UtcNow);
        }
        if (changed is not null)
            throw await RefuseAsync("write", metadata, changed, cancellationToken).ConfigureAwait(false);
        Remember(key, written!.Revision);
        Apply(written, metadata);
    }

    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var key = Key(metadata);
        MemoryFile? changed = null;
        lock (_store.Sync)
        {
            if (!_store.TryGet(key, out var current) || current.Revision == metadata.Revision)
                _store.Remove(key); // deleting a missing file is not an error
            else
                changed = current; // an edit the engine has not seen beats a deletion
        }
        if (changed is not null)
            throw await RefuseAsync("delete", metadata, changed, cancellationToken).ConfigureAwait(false);
        Forget(key);
    }

    /// <inheritdoc />
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var from = Key(source);
        var to = Key(destination);
        MemoryFile? moved = null;
        (Metadata Expected, MemoryFile Actual)? changed = null;
        lock (_store.Sync)
        {
            if (!_store.TryGet(from, out var file))
                throw new RemoteFileNotFoundException($"{source} is not in the store.");
            if (file.Revision != source.Revision)
                changed = (source, file);
            else if (from != to && _store.TryGet(to, out var existing) && existing.Revision != destination.Revision)
                changed = (destination, existing);
            else
            {
                _store.Remove(from);
                moved = _store.Put(to, file.Content, file.Modified);
            }
        }
        if (changed is var (expected, actual))
            throw await RefuseAsync("move", expected, actual, cancellationToken).ConfigureAwait(false);
        Forget(from);
        Remember(to, moved!.Revision);
        Apply(moved, destination);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _reporting.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReportChangesAsync(bool fromScratch, CancellationToken cancellationToken)
    {
        await _reporting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var folder in _plug.Folders)
            {
                var prefix = folder.Path.TrimEnd('/') + "/";
                List<KeyValuePair<string, MemoryFile>> files;
                lock (_store.Sync)
                    files = _store.Under(prefix);
                var present = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (key, file) in files)
                {
                    present.Add(key);
                    var path = key[prefix.Length..];
                    string? seen;
                    lock (_seen)
                        _seen.TryGetValue(key, out seen);
                    if (!fromScratch && seen == file.Revision)
                        continue;
                    var known = await _plug.GetMetadataAsync(folder.Name, path, cancellationToken).ConfigureAwait(false);
                    Remember(key, file.Revision);
                    if (known.Revision == file.Revision)
                        continue;
                    Apply(file, known);
                    await _plug.UpdateFileAsync(known, cancellationToken).ConfigureAwait(false);
                }

                // Deletions: what the engine (on a scan) or this watcher (live) knew that is gone.
                var gone = new List<Metadata>();
                if (fromScratch)
                {
                    await foreach (var known in _plug.ListFilesAsync(folder.Name, cancellationToken: cancellationToken).ConfigureAwait(false))
                    {
                        if (!present.Contains(prefix + known.Path))
                            gone.Add(known);
                    }
                }
                else
                {
                    List<string> vanished;
                    lock (_seen)
                        vanished = [.. _seen.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !present.Contains(k))];
                    foreach (var key in vanished)
                        gone.Add(await _plug.GetMetadataAsync(folder.Name, key[prefix.Length..], cancellationToken).ConfigureAwait(false));
                }
                foreach (var metadata in gone)
                {
                    Forget(prefix + metadata.Path);
                    await _plug.DeleteFileAsync(metadata, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _reporting.Release();
        }
    }

    private MemoryFile Find(Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_store.Sync)
        {
            return _store.TryGet(Key(metadata), out var file)
                ? file
                : throw new RemoteFileNotFoundException($"{metadata} is not in the store.");
        }
    }

    private string Key(Metadata metadata)
    {
        var folder = _plug.Folders.FirstOrDefault(f => f.Name == metadata.Folder)
            ?? throw new DriverException($"The folder '{metadata.Folder}' is not mapped on the service '{_plug.ServiceName}'.");
        return folder.Path.TrimEnd('/') + "/" + metadata.Path;
    }

    private void Remember(string key, string revision)
    {
        lock (_seen)
            _seen[key] = revision;
    }

    private void Forget(string key)
    {
        lock (_seen)
            _seen.Remove(key);
    }

    /// <summary>Reports what the store holds instead of the revision the engine expected, and returns the refusal to throw.</summary>
    private async Task<ContentChangedException> RefuseAsync(string action, Metadata expected, MemoryFile actual, CancellationToken cancellationToken)
    {
        var current = new Metadata(expected.Folder, expected.Path);
        Apply(actual, current);
        Remember(Key(expected), actual.Revision);
        await _plug.UpdateFileAsync(current, cancellationToken).ConfigureAwait(false);
        return new ContentChangedException(
            $"Refused to {action} {expected}: it is at revision {actual.Revision}, not {expected.Revision ?? "none (no file expected)"}.");
    }

    private static void Apply(MemoryFile file, Metadata metadata)
    {
        metadata.Size = file.Content.Length;
        metadata.Revision = file.Revision;
        metadata.ModifiedAt = file.Modified;
    }
}
