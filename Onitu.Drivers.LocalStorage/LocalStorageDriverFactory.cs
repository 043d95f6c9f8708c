namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The entry point of the local storage driver (<c>local_storage</c>): publishes the manifest embedded in this
/// assembly and creates a <see cref="LocalStorageDriver"/> per service.
/// </summary>
public sealed class LocalStorageDriverFactory : IDriverFactory
{
    /// <summary>The name under which manifest.json is embedded in this assembly.</summary>
    public const string ManifestResourceName = "Onitu.Drivers.LocalStorage.manifest.json";

    private static readonly Lazy<DriverManifest> LazyManifest =
        new(() => DriverManifest.FromEmbeddedResource(typeof(LocalStorageDriverFactory).Assembly, ManifestResourceName));

    /// <summary>Creates the factory; plugin hosts call this parameterless constructor.</summary>
    public LocalStorageDriverFactory()
    {
    }

    /// <inheritdoc />
    public DriverManifest Manifest => LazyManifest.Value;

    /// <inheritdoc />
    /// <exception cref="DriverException">An option is out of range, or two folders overlap on disk.</exception>
    public IDriver Create(IPlug plug) => new LocalStorageDriver(plug);
}
