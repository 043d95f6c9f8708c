namespace Onitu.TestDrivers.Future;

/// <summary>A driver built against Onitu.Abstractions 99.0.0.0.</summary>
public sealed class FutureDriverFactory : IDriverFactory
{
    /// <inheritdoc />
    public DriverManifest Manifest { get; } = DriverManifest.FromEmbeddedResource(typeof(FutureDriverFactory).Assembly, "manifest.json");

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => throw new NotSupportedException();
}
