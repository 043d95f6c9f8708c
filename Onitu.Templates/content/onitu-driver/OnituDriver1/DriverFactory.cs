using Onitu;

namespace OnituDriver1;

/// <summary>The driver's entry point: its manifest (embedded manifest.json) and one driver per service.</summary>
public sealed class DriverFactory : IDriverFactory
{
    private static readonly DriverManifest LoadedManifest =
        DriverManifest.FromEmbeddedResource(typeof(DriverFactory).Assembly, "OnituDriver1.manifest.json");

    /// <inheritdoc />
    public DriverManifest Manifest => LoadedManifest;

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => new Driver(plug);
}
