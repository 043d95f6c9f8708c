using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// The driver <c>timeless_storage</c>: the real local_storage driver on real files, reporting no modification times,
/// like a store that keeps none.
/// </summary>
internal sealed class TimelessStorageFactory : IDriverFactory
{
    private static readonly Lazy<DriverManifest> LazyManifest = new(() =>
    {
        using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
        var json = new StreamReader(stream).ReadToEnd()
            .Replace("\"id\": \"local_storage\"", "\"id\": \"timeless_storage\"", StringComparison.Ordinal)
            .Replace("\"entryType\": \"Onitu.Drivers.LocalStorage.LocalStorageDriverFactory\"", $"\"entryType\": \"{typeof(TimelessStorageFactory).FullName}\"", StringComparison.Ordinal);
        return DriverManifest.Parse(json);
    });

    public DriverManifest Manifest => LazyManifest.Value;

    /// <summary>
    /// Awaited with the service's name before each report of a new content reaches the engine: how a test orders the
    /// reports.
    /// </summary>
    public Func<string, Metadata, Task>? BeforeUpdate { get; set; }

    public IDriver Create(IPlug plug) => new LocalStorageDriver(new TimelessPlug(plug, this));

    private sealed class TimelessPlug(IPlug inner, TimelessStorageFactory factory) : IPlug
    {
        public string ServiceName => inner.ServiceName;
        public IReadOnlyList<FolderMapping> Folders => inner.Folders;
        public DriverOptions Options => inner.Options;
        public string BaseDirectory => inner.BaseDirectory;
        public ILogger Logger => inner.Logger;
        public IDriverStateStore State => inner.State;
        public bool DryRun => inner.DryRun;

        public async ValueTask UpdateFileAsync(Metadata metadata, CancellationToken cancellationToken = default)
        {
            metadata.ModifiedAt = null;
            if (factory.BeforeUpdate is { } before)
                await before(inner.ServiceName, metadata).ConfigureAwait(false);
            await inner.UpdateFileAsync(metadata, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken = default) => inner.DeleteFileAsync(metadata, cancellationToken);

        public ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken = default)
        {
            destination.ModifiedAt = null;
            return inner.MoveFileAsync(source, destination, cancellationToken);
        }

        public ValueTask ReportSkippedAsync(string folder, string path, string reason, CancellationToken cancellationToken = default) =>
            inner.ReportSkippedAsync(folder, path, reason, cancellationToken);

        public ValueTask<Metadata> GetMetadataAsync(string folder, string path, CancellationToken cancellationToken = default) =>
            inner.GetMetadataAsync(folder, path, cancellationToken);

        public async IAsyncEnumerable<Metadata> ListFilesAsync(string folder, string? directory = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var metadata in inner.ListFilesAsync(folder, directory, cancellationToken))
                yield return metadata;
        }
    }
}
