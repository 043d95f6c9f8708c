using System.Globalization;
using Microsoft.Extensions.Logging;
using Onitu;

namespace OnituDriver1;

/// <summary>
/// A driver over a directory tree: each folder of the setup maps to a directory under the <c>root</c> option. The
/// storage calls are plain System.IO; replace them with your store's and keep the rules this code follows (see
/// Onitu's docs/writing-a-driver.md): writes appear atomically, a write, move or delete given a revision the store no
/// longer holds is refused with <see cref="ContentChangedException"/> after reporting what the store holds, every write
/// and move sets the revision it wrote, and temporary files are never reported.
/// </summary>
/// <remarks>
/// Every member may be called concurrently. Changes made by others are found by listing the store every
/// <c>poll-ms</c>; a store with change notifications (a feed, a cursor) would report from those instead.
/// It does not resume interrupted uploads: implement <see cref="IChunkedWriter"/> for that.
/// </remarks>
public sealed partial class Driver : IDriver, IChunkedReader, INativeMove
{
    private const string TempPrefix = ".onitu-tmp-";

    private readonly IPlug _plug;
    private readonly string _root;
    private readonly TimeSpan _poll;
    // Serializes each compare-and-swap: compare the store's revision with the expected one, then replace.
    private readonly SemaphoreSlim _commit = new(1, 1);
    // What the watcher last saw (folder, path) -> revision, so that it reports only what changed.
    private readonly Dictionary<(string Folder, string Path), string> _seen = [];
    private readonly Lock _seenLock = new();

    /// <summary>Creates the driver of one service; the store is not touched before <see cref="ScanAsync"/>.</summary>
    /// <param name="plug">The service's plug.</param>
    public Driver(IPlug plug)
    {
        ArgumentNullException.ThrowIfNull(plug);
        _plug = plug;
        _root = Path.GetFullPath(plug.Options.GetRequiredString("root"), plug.BaseDirectory);
        _poll = TimeSpan.FromMilliseconds(Math.Max(10, plug.Options.GetInt64("poll-ms", 500)));
    }

    /// <inheritdoc />
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        foreach (var folder in _plug.Folders)
        {
            await PrepareAsync(folder, cancellationToken).ConfigureAwait(false);
            var found = List(folder);
            foreach (var (path, file) in found)
            {
                // Reporting a revision the engine already knows is harmless: it ignores it.
                await _plug.UpdateFileAsync(ToMetadata(folder.Name, path, file), cancellationToken).ConfigureAwait(false);
                See(folder.Name, path, Revision(file));
            }
            // Files deleted while Onitu was stopped: what the engine believes is here and is not.
            var gone = new List<Metadata>();
            await foreach (var known in _plug.ListFilesAsync(folder.Name, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (!found.ContainsKey(known.Path))
                    gone.Add(known);
            }
            foreach (var metadata in gone)
                await _plug.DeleteFileAsync(metadata, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task WatchAsync(CancellationToken cancellationToken)
    {
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
            foreach (var folder in _plug.Folders)
            {
                Dictionary<string, FileInfo> found;
                try
                {
                    found = List(folder);
                }
                catch (ServiceException e)
                {
                    Log.ListingFailed(_plug.Logger, folder.Name, e.Message);
                    continue; // an unreachable store is not an empty one: report nothing
                }
                foreach (var (path, file) in found)
                {
                    var revision = Revision(file);
                    if (Seen(folder.Name, path) == revision)
                        continue;
                    await _plug.UpdateFileAsync(ToMetadata(folder.Name, path, file), cancellationToken).ConfigureAwait(false);
                    See(folder.Name, path, revision);
                }
                foreach (var path in SeenPaths(folder.Name).Where(p => !found.ContainsKey(p)))
                {
                    var known = await _plug.GetMetadataAsync(folder.Name, path, cancellationToken).ConfigureAwait(false);
                    Unsee(folder.Name, path);
                    await _plug.DeleteFileAsync(known, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        var path = FullPath(metadata);
        try
        {
            return ValueTask.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 81_920, FileOptions.Asynchronous | FileOptions.SequentialScan));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RemoteFileNotFoundException($"{metadata} is not in {path}.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure("read", metadata, e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        try
        {
            using var handle = File.OpenHandle(FullPath(metadata), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                total += read;
            }
            return total;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RemoteFileNotFoundException($"{metadata} is not there any more.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure("read", metadata, e);
        }
    }

    /// <inheritdoc />
    public async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(content);
        var target = FullPath(metadata);
        var temp = Path.Combine(Path.GetDirectoryName(target)!, TempPrefix + Guid.NewGuid().ToString("N"));
        FileInfo? changed = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 81_920, FileOptions.Asynchronous))
                await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);

            await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // A file gone since the engine saw it is written anyway: an edit beats a deletion.
                if (Existing(target) is { } current && Revision(current) != metadata.Revision)
                {
                    changed = current;
                }
                else
                {
                    File.Move(temp, target, overwrite: true); // atomic: readers see the old or the new file
                    var written = new FileInfo(target);
                    Apply(written, metadata);
                    See(metadata.Folder, metadata.Path, Revision(written));
                }
            }
            finally
            {
                _commit.Release();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure("write", metadata, e);
        }
        finally
        {
            TryDelete(temp);
        }
        if (changed is not null)
            throw await RefuseAsync("write", metadata, changed, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var target = FullPath(metadata);
        FileInfo? changed = null;
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Existing(target) is { } current)
            {
                if (Revision(current) != metadata.Revision)
                    changed = current; // an edit the engine has not seen beats a deletion
                else
                    File.Delete(target);
            }
            // Deleting a missing file is not an error.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure("delete", metadata, e);
        }
        finally
        {
            _commit.Release();
        }
        if (changed is not null)
            throw await RefuseAsync("delete", metadata, changed, cancellationToken).ConfigureAwait(false);
        Unsee(metadata.Folder, metadata.Path);
        RemoveEmptyDirectories(Path.GetDirectoryName(target)!, FolderPath(metadata.Folder));
    }

    /// <inheritdoc />
    public async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var from = FullPath(source);
        var to = FullPath(destination);
        (Metadata Expected, FileInfo Actual)? changed = null;
        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = Existing(from) ?? throw new RemoteFileNotFoundException($"Cannot move {source}: it is not there any more.");
            if (Revision(current) != source.Revision)
            {
                changed = (source, current);
            }
            else if (to != from && Existing(to) is { } existing && Revision(existing) != destination.Revision)
            {
                changed = (destination, existing);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Move(from, to, overwrite: true);
                var moved = new FileInfo(to);
                Apply(moved, destination);
                Unsee(source.Folder, source.Path);
                See(destination.Folder, destination.Path, Revision(moved));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure($"move to {destination}", source, e);
        }
        finally
        {
            _commit.Release();
        }
        if (changed is var (expected, actual))
            throw await RefuseAsync("move", expected, actual, cancellationToken).ConfigureAwait(false);
        RemoveEmptyDirectories(Path.GetDirectoryName(from)!, FolderPath(source.Folder));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // nothing held open between calls

    /// <summary>
    /// Creates a folder's missing directory when the engine knows no file in it (a folder new to this service), and
    /// refuses when it does: a vanished directory (an unmounted disk) must never read as "everything was deleted".
    /// </summary>
    private async Task PrepareAsync(FolderMapping folder, CancellationToken cancellationToken)
    {
        var directory = FolderPath(folder.Name);
        if (Directory.Exists(directory))
            return;
        await using (var known = _plug.ListFilesAsync(folder.Name, cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken))
        {
            if (await known.MoveNextAsync().ConfigureAwait(false))
                throw Missing(folder, directory);
        }
        Directory.CreateDirectory(directory);
    }

    /// <summary>Every file of a folder, by path relative to it; temporary files are not files of the folder.</summary>
    private Dictionary<string, FileInfo> List(FolderMapping folder)
    {
        var directory = FolderPath(folder.Name);
        if (!Directory.Exists(directory))
            throw Missing(folder, directory);
        var files = new Dictionary<string, FileInfo>(StringComparer.Ordinal);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", options))
        {
            if (!file.Name.StartsWith(TempPrefix, StringComparison.Ordinal))
                files[Path.GetRelativePath(directory, file.FullName).Replace(Path.DirectorySeparatorChar, '/')] = file;
        }
        return files;
    }

    private async Task<ContentChangedException> RefuseAsync(string action, Metadata expected, FileInfo actual, CancellationToken cancellationToken)
    {
        // Report first: the engine resolves the conflict from what the store holds.
        await _plug.UpdateFileAsync(ToMetadata(expected.Folder, expected.Path, actual), cancellationToken).ConfigureAwait(false);
        See(expected.Folder, expected.Path, Revision(actual));
        return new ContentChangedException(
            $"Refused to {action} {expected}: it changed on the store (revision {Revision(actual)}, expected {expected.Revision ?? "no file"}).");
    }

    // The revision changes whenever the content does: size and modification time, to the tick.
    private static string Revision(FileInfo file) =>
        string.Create(CultureInfo.InvariantCulture, $"{file.Length}-{file.LastWriteTimeUtc.Ticks}");

    private static Metadata ToMetadata(string folder, string path, FileInfo file)
    {
        var metadata = new Metadata(folder, path);
        Apply(file, metadata);
        return metadata;
    }

    private static void Apply(FileInfo file, Metadata metadata)
    {
        metadata.Size = file.Length;
        metadata.Revision = Revision(file);
        metadata.ModifiedAt = new DateTimeOffset(file.LastWriteTimeUtc);
    }

    private static FileInfo? Existing(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? file : null;
    }

    private string FolderPath(string folder)
    {
        var mapping = _plug.Folders.FirstOrDefault(f => f.Name == folder)
            ?? throw new DriverException($"The folder '{folder}' is not mapped on the service '{_plug.ServiceName}'.");
        return Path.GetFullPath(mapping.Path, _root);
    }

    private string FullPath(Metadata metadata) => Path.Combine(FolderPath(metadata.Folder), metadata.Path);

    private static ServiceException Missing(FolderMapping folder, string directory) =>
        new($"The directory of folder '{folder.Name}' ({directory}) is missing (is the disk mounted?).", isTransient: true);

    private static ServiceException Failure(string action, Metadata metadata, Exception e) =>
        new($"Could not {action} {metadata}: {e.Message}", isTransient: e is IOException, e);

    private static void RemoveEmptyDirectories(string directory, string stopAt)
    {
        try
        {
            while (directory.Length > stopAt.Length && directory.StartsWith(stopAt, StringComparison.Ordinal)
                   && !Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
                directory = Path.GetDirectoryName(directory)!;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another write filled it meanwhile, or it is not ours to remove: leave it.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private string? Seen(string folder, string path)
    {
        lock (_seenLock)
            return _seen.GetValueOrDefault((folder, path));
    }

    private void See(string folder, string path, string revision)
    {
        lock (_seenLock)
            _seen[(folder, path)] = revision;
    }

    private void Unsee(string folder, string path)
    {
        lock (_seenLock)
            _seen.Remove((folder, path));
    }

    private List<string> SeenPaths(string folder)
    {
        lock (_seenLock)
            return [.. _seen.Keys.Where(k => k.Folder == folder).Select(k => k.Path)];
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Could not list the folder '{Folder}': {Reason}")]
        public static partial void ListingFailed(ILogger logger, string folder, string reason);
    }
}
