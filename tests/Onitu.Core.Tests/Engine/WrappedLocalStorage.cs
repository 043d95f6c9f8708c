using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// The local_storage driver's manifest under another id and entry type: how a test driver wrapping the real local
/// driver (to gauge, hold or reorder its calls) declares itself, with the same options.
/// </summary>
internal static class LocalStorageManifest
{
    public static DriverManifest Renamed(string id, Type factory)
    {
        using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
        using var reader = new StreamReader(stream);
        return DriverManifest.Parse(reader.ReadToEnd()
            .Replace("\"local_storage\"", $"\"{id}\"", StringComparison.Ordinal)
            .Replace("\"entryType\": \"Onitu.Drivers.LocalStorage.LocalStorageDriverFactory\"", $"\"entryType\": \"{factory.FullName}\"", StringComparison.Ordinal));
    }
}

/// <summary>
/// The real local driver behind a test's hooks: every call goes to it, and a test overrides the one it holds or
/// reorders. Only whole-file transfers (no chunks, no native copy or move), with verified reads and the local
/// driver's timestamp resolution.
/// </summary>
internal abstract class WrappedLocalDriver(LocalStorageDriver inner) : IDriver, IFileStat, ITimestampResolution
{
    protected LocalStorageDriver Inner { get; } = inner;

    public virtual Task ScanAsync(CancellationToken cancellationToken) => Inner.ScanAsync(cancellationToken);
    public Task WatchAsync(CancellationToken cancellationToken) => Inner.WatchAsync(cancellationToken);
    public ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.OpenReadAsync(metadata, cancellationToken);
    public virtual ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken) => Inner.UploadFileAsync(metadata, content, cancellationToken);
    public virtual ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.DeleteFileAsync(metadata, cancellationToken);
    public ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken) => Inner.StatAsync(metadata, cancellationToken);
    public virtual TimeSpan GetTimestampResolution(Metadata file) => Inner.GetTimestampResolution(file);
    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}
