using Onitu.Drivers.LocalStorage;

namespace Onitu.Tests;

/// <summary>
/// local_storage under another manifest (another id, other options), its driver optionally wrapped: a second driver
/// kind for tests that really syncs (a driver with a secret option, one with a fault).
/// </summary>
/// <param name="manifest">The manifest the factory publishes.</param>
/// <param name="wrapDriver">Wraps each local_storage driver created (with the plug it got); none: the driver as is.</param>
/// <param name="wrapPlug">Wraps the plug before the driver gets it; none: the engine's plug.</param>
internal sealed class LocalStorageVariantFactory(DriverManifest manifest, Func<LocalStorageDriver, IPlug, IDriver>? wrapDriver = null, Func<IPlug, IPlug>? wrapPlug = null) : IDriverFactory
{
    public DriverManifest Manifest => manifest;

    public IDriver Create(IPlug plug)
    {
        var wrapped = wrapPlug is null ? plug : wrapPlug(plug);
        var driver = new LocalStorageDriver(wrapped);
        return wrapDriver is null ? driver : wrapDriver(driver, wrapped);
    }

    /// <summary>local_storage's options under the id <paramref name="id"/>.</summary>
    public static DriverManifest ManifestAs(string id, string description) =>
        new(id, id, description, new LocalStorageDriverFactory().Manifest.Options);
}
