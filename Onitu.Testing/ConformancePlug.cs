using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Onitu.Testing;

/// <summary>
/// A plug for calling a driver's handlers without the engine: it remembers what the driver reports per
/// (folder, path), as the engine would, and records every report in order.
/// </summary>
public sealed class ConformancePlug : IPlug
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Folder, string Path), Metadata> _known = [];
    private readonly List<string> _reports = [];

    /// <summary>Creates a plug.</summary>
    /// <param name="serviceName">The service name the driver sees.</param>
    /// <param name="folders">The folder mappings.</param>
    /// <param name="options">The validated options.</param>
    /// <param name="baseDirectory">The directory relative paths resolve against.</param>
    /// <param name="state">The driver state store; share one between driver instances to emulate a restart.</param>
    /// <param name="logger">Where the driver logs.</param>
    public ConformancePlug(string serviceName, IReadOnlyList<FolderMapping> folders, DriverOptions options, string baseDirectory,
        IDriverStateStore? state = null, ILogger? logger = null)
    {
        ServiceName = serviceName;
        Folders = folders;
        Options = options;
        BaseDirectory = baseDirectory;
        State = state ?? new MemoryDriverStateStore();
        Logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string ServiceName { get; }

    /// <inheritdoc />
    public IReadOnlyList<FolderMapping> Folders { get; }

    /// <inheritdoc />
    public DriverOptions Options { get; }

    /// <inheritdoc />
    public string BaseDirectory { get; }

    /// <inheritdoc />
    public ILogger Logger { get; }

    /// <inheritdoc />
    public IDriverStateStore State { get; }

    /// <summary>Every report so far, as text ("update docs:a.txt size=10 rev=…").</summary>
    public IReadOnlyList<string> Reports
    {
        get
        {
            lock (_lock)
                return [.. _reports];
        }
    }

    /// <summary>What is known of a file (a copy), or a new <see cref="Metadata"/> when nothing is.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="path">The path in the folder.</param>
    public Metadata Known(string folder, string path)
    {
        lock (_lock)
            return _known.TryGetValue((folder, FilePath.Normalize(path)), out var m) ? Copy(m) : new Metadata(folder, path);
    }

    /// <summary>Every file known, as last reported.</summary>
    public IReadOnlyList<Metadata> KnownFiles()
    {
        lock (_lock)
            return [.. _known.Values.Select(Copy)];
    }

    /// <summary>Remembers a handler's result, as the engine does when a handler returns.</summary>
    /// <param name="metadata">The metadata the handler updated.</param>
    public void Remember(Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_lock)
            _known[(metadata.Folder, metadata.Path)] = Copy(metadata);
    }

    /// <summary>Forgets a file, as the engine does when a deletion handler returns.</summary>
    /// <param name="metadata">The deleted file.</param>
    public void Forget(Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_lock)
            _known.Remove((metadata.Folder, metadata.Path));
    }

    /// <inheritdoc />
    public ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_lock)
        {
            _known[(metadata.Folder, metadata.Path)] = Copy(metadata);
            _reports.Add($"update {metadata} size={metadata.Size} rev={metadata.Revision}");
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_lock)
        {
            _known.Remove((metadata.Folder, metadata.Path));
            _reports.Add($"delete {metadata}");
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        lock (_lock)
        {
            _known.Remove((source.Folder, source.Path));
            _known[(destination.Folder, destination.Path)] = Copy(destination);
            _reports.Add($"move {source} -> {destination}");
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default)
    {
        lock (_lock)
            _reports.Add($"skip {folder}:{path} ({reason})");
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Known(folder, path));

    /// <inheritdoc />
    public async IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        List<Metadata> files;
        lock (_lock)
        {
            files = [.. _known.Values
                .Where(m => m.Folder == folder && (string.IsNullOrEmpty(directory) || FilePath.IsUnder(m.Path, directory)))
                .OrderBy(m => m.Path, StringComparer.Ordinal)
                .Select(Copy)];
        }
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return file;
        }
    }

    private static Metadata Copy(Metadata m)
    {
        var copy = new Metadata(m.Folder, m.Path) { Size = m.Size, Revision = m.Revision, ModifiedAt = m.ModifiedAt };
        foreach (var (key, value) in m.Extra)
            copy.Extra[key] = value;
        return copy;
    }
}

/// <summary>An in-memory <see cref="IDriverStateStore"/>.</summary>
public sealed class MemoryDriverStateStore : IDriverStateStore
{
    private readonly ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_values.TryGetValue(key, out var v) ? v : null);

    /// <inheritdoc />
    public ValueTask SetAsync(string key, string? value, CancellationToken cancellationToken = default)
    {
        if (value is null)
            _values.TryRemove(key, out _);
        else
            _values[key] = value;
        return ValueTask.CompletedTask;
    }
}
