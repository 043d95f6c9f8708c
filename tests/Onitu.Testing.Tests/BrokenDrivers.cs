using System.Globalization;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Testing.Tests;

/// <summary>
/// The local_storage driver with one thing broken, under its own id: each override below is a fault the kit must
/// catch. The base class delegates everything faithfully (a correct driver that is not local_storage).
/// </summary>
internal class WrappedDriver(LocalStorageDriver inner) : IDriver, IChunkedReader, IChunkedWriter, INativeMove
{
    protected LocalStorageDriver Inner { get; } = inner;

    public virtual Task ScanAsync(CancellationToken cancellationToken) => Inner.ScanAsync(cancellationToken);
    public virtual Task WatchAsync(CancellationToken cancellationToken) => Inner.WatchAsync(cancellationToken);
    public virtual ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.OpenReadAsync(metadata, cancellationToken);
    public virtual ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken) => Inner.UploadFileAsync(metadata, content, cancellationToken);
    public virtual ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.DeleteFileAsync(metadata, cancellationToken);
    public virtual ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        Inner.ReadChunkAsync(metadata, offset, buffer, cancellationToken);
    public int NegotiateChunkSize(int proposedChunkSize) => Inner.NegotiateChunkSize(proposedChunkSize);
    public virtual ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.StartUploadAsync(metadata, cancellationToken);
    public virtual ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken) => Inner.RestartUploadAsync(metadata, offset, cancellationToken);
    public virtual ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken) =>
        Inner.UploadChunkAsync(metadata, offset, chunk, cancellationToken);
    public virtual ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.EndUploadAsync(metadata, cancellationToken);
    public virtual ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.AbortUploadAsync(metadata, cancellationToken);
    public virtual ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken) => Inner.MoveFileAsync(source, destination, cancellationToken);
    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}

/// <summary>
/// Writes, ends uploads, moves and deletes without compare-and-swap: before each call it takes the revision on disk as the
/// one expected (local_storage's revision format, <c>{size}-{mtime ticks}</c>), so nothing is ever refused.
/// </summary>
internal sealed class NoCompareAndSwapDriver(LocalStorageDriver inner, IPlug plug) : WrappedDriver(inner)
{
    public override ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        metadata.Revision = RevisionOnDisk(metadata);
        return Inner.UploadFileAsync(metadata, content, cancellationToken);
    }

    public override ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        metadata.Revision = RevisionOnDisk(metadata);
        return Inner.EndUploadAsync(metadata, cancellationToken);
    }

    public override ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        metadata.Revision = RevisionOnDisk(metadata);
        return Inner.DeleteFileAsync(metadata, cancellationToken);
    }

    public override ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        source.Revision = RevisionOnDisk(source);
        destination.Revision = RevisionOnDisk(destination);
        return Inner.MoveFileAsync(source, destination, cancellationToken);
    }

    private string? RevisionOnDisk(Metadata metadata)
    {
        var folder = plug.Folders.Single(f => f.Name == metadata.Folder).Path;
        var file = new FileInfo(Path.Combine(plug.Options.GetRequiredString("root"), folder, metadata.Path));
        return file.Exists ? string.Create(CultureInfo.InvariantCulture, $"{file.Length}-{file.LastWriteTimeUtc.Ticks}") : null;
    }
}

/// <summary>RestartUpload that keeps the partial upload as it is: bytes written past the offset stay.</summary>
internal sealed class KeepsBytesPastTheOffsetDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    public override ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>Never sets the revision of what it wrote or moved.</summary>
internal sealed class NoRevisionDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        await Inner.UploadFileAsync(metadata, content, cancellationToken);
        metadata.Revision = null;
    }

    public override async ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        await Inner.EndUploadAsync(metadata, cancellationToken);
        metadata.Revision = null;
    }

    public override async ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken)
    {
        await Inner.MoveFileAsync(source, destination, cancellationToken);
        destination.Revision = null;
    }
}

/// <summary>Sets modification times two hours off after a write: a local time (UTC+2) taken for UTC.</summary>
internal sealed class ShiftedTimesDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        await Inner.UploadFileAsync(metadata, content, cancellationToken);
        metadata.ModifiedAt += TimeSpan.FromHours(2);
    }
}

/// <summary>
/// Stores every byte XOR 0x5A and undoes it on reads: its own reads look right, only an independent view of the store
/// sees the damage.
/// </summary>
internal sealed class ScramblingDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    private const byte Key = 0x5A;

    public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, cancellationToken);
        var bytes = copy.ToArray();
        Scramble(bytes);
        await Inner.UploadFileAsync(metadata, new MemoryStream(bytes), cancellationToken);
    }

    public override async ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken)
    {
        await using var stream = await Inner.OpenReadAsync(metadata, cancellationToken);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, cancellationToken);
        var bytes = copy.ToArray();
        Scramble(bytes);
        return new MemoryStream(bytes, writable: false);
    }

    public override async ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var read = await Inner.ReadChunkAsync(metadata, offset, buffer, cancellationToken);
        Scramble(buffer.Span[..read]);
        return read;
    }

    public override ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        var bytes = chunk.ToArray();
        Scramble(bytes);
        return Inner.UploadChunkAsync(metadata, offset, bytes, cancellationToken);
    }

    private static void Scramble(Span<byte> bytes)
    {
        foreach (ref var b in bytes)
            b ^= Key;
    }
}

/// <summary>Drops the last chunk of a chunked upload (the short one).</summary>
internal sealed class DropsLastChunkDriver(LocalStorageDriver inner, int chunkSize) : WrappedDriver(inner)
{
    public override ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken) =>
        chunk.Length < chunkSize ? ValueTask.CompletedTask : Inner.UploadChunkAsync(metadata, offset, chunk, cancellationToken);
}

/// <summary>Ignores the offset of chunked reads: always reads from the start.</summary>
internal sealed class IgnoresOffsetsDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    public override ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        offset >= metadata.Size && metadata.Size > 0 ? ValueTask.FromResult(0) : Inner.ReadChunkAsync(metadata, 0, buffer, cancellationToken);
}

/// <summary>Buffers uploads in one shared buffer without a lock.</summary>
internal sealed class NotThreadSafeDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    private readonly MemoryStream _shared = new();

    public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        _shared.SetLength(0);
        await content.CopyToAsync(_shared, cancellationToken);
        await Task.Delay(5, cancellationToken); // the "network round trip" during which another call reuses the buffer
        var bytes = _shared.ToArray();
        await Inner.UploadFileAsync(metadata, new MemoryStream(bytes), cancellationToken);
    }
}

/// <summary>A plug wrapper: the reports a broken driver makes.</summary>
/// <summary>Copies the content of a whole-file upload with the synchronous CopyTo, as a sync-minded driver would.</summary>
internal sealed class SyncReadingDriver(LocalStorageDriver inner) : WrappedDriver(inner)
{
    public override async ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        content.CopyTo(copy);
        copy.Position = 0;
        await Inner.UploadFileAsync(metadata, copy, cancellationToken);
    }
}

internal class WrappedPlug(IPlug inner) : IPlug
{
    public string ServiceName => inner.ServiceName;
    public IReadOnlyList<FolderMapping> Folders => inner.Folders;
    public DriverOptions Options => inner.Options;
    public string BaseDirectory => inner.BaseDirectory;
    public ILogger Logger => inner.Logger;
    public IDriverStateStore State => inner.State;
    public virtual ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default) => inner.UpdateFileAsync(metadata, cancellationToken);
    public virtual ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default) => inner.DeleteFileAsync(metadata, cancellationToken);
    public virtual ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default) => inner.MoveFileAsync(source, destination, cancellationToken);
    public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default) =>
        inner.ReportSkippedAsync(folder, path, reason, cancellationToken);
    public ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default) => inner.GetMetadataAsync(folder, path, cancellationToken);
    public IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null, CancellationToken cancellationToken = default) =>
        inner.ListFilesAsync(folder, directory, cancellationToken);
}

/// <summary>Reports every file one byte bigger than it is.</summary>
internal sealed class WrongSizesPlug(IPlug inner) : WrappedPlug(inner)
{
    public override ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
    {
        metadata.Size += 1;
        return base.UpdateFileAsync(metadata, cancellationToken);
    }
}

/// <summary>Never reports a new revision (so a refusal is never explained to the engine).</summary>
internal sealed class NoUpdatesPlug(IPlug inner) : WrappedPlug(inner)
{
    public override ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}

/// <summary>Never reports a deletion.</summary>
internal sealed class NoDeletionsPlug(IPlug inner) : WrappedPlug(inner)
{
    public override ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
}

/// <summary>The bare contract: only <see cref="IDriver"/>, no optional capability.</summary>
internal sealed class BareDriver(LocalStorageDriver inner) : IDriver
{
    public Task ScanAsync(CancellationToken cancellationToken) => inner.ScanAsync(cancellationToken);
    public Task WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);
    public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => inner.OpenReadAsync(metadata, cancellationToken);
    public ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken) => inner.UploadFileAsync(metadata, content, cancellationToken);
    public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => inner.DeleteFileAsync(metadata, cancellationToken);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>A wrapped local_storage driver under another id.</summary>
internal static class WrappedFactory
{
    public static LocalStorageVariantFactory Create(string id, Func<LocalStorageDriver, IPlug, IDriver> wrapDriver, Func<IPlug, IPlug>? wrapPlug = null) =>
        new(LocalStorageVariantFactory.ManifestAs(id, "local_storage with a fault, for the kit's self-tests"), wrapDriver, wrapPlug);

    public static LocalStorageVariantFactory Create(string id, Func<LocalStorageDriver, IDriver> wrapDriver, Func<IPlug, IPlug>? wrapPlug = null) =>
        Create(id, (driver, _) => wrapDriver(driver), wrapPlug);
}
