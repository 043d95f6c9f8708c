namespace Onitu.Samples.MemoryDriver;

/// <summary>The entry point of the <c>memory</c> driver.</summary>
public sealed class MemoryDriverFactory : IDriverFactory
{
    private static readonly Lazy<DriverManifest> LazyManifest = new(() =>
        DriverManifest.FromEmbeddedResource(typeof(MemoryDriverFactory).Assembly, "Onitu.Samples.MemoryDriver.manifest.json"));

    /// <inheritdoc />
    public DriverManifest Manifest => LazyManifest.Value;

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => new MemoryDriver(plug);
}
