namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// The entry point of the local storage driver (<c>local_storage</c>): publishes the manifest embedded in this
/// assembly, checks a service's options and folder mappings, and creates a <see cref="LocalStorageDriver"/> per service.
/// </summary>
public sealed class LocalStorageDriverFactory : IDriverFactory, IDriverOptionsValidator
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

    /// <inheritdoc />
    /// <remarks>Checks the range of <c>debounce-ms</c> (as the manifest does, for a caller that bypassed it).</remarks>
    public IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory) =>
        LocalStorageOptions.Check(options).ToList();

    /// <inheritdoc />
    /// <remarks>
    /// Checks the options, then where the folders would lie, without touching the disk: two folders whose directories
    /// are the same or one inside the other are refused at the later mapping. <see cref="Create"/> refuses exactly these.
    /// </remarks>
    public IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory, IReadOnlyList<FolderMapping> folders)
    {
        ArgumentNullException.ThrowIfNull(folders);
        var problems = LocalStorageOptions.Check(options).ToList();
        problems.AddRange(StorageLayout.Check(baseDirectory, LocalStorageOptions.RootOf(options), folders));
        return problems;
    }
}
