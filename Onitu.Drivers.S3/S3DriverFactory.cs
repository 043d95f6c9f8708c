namespace Onitu.Drivers.S3;

/// <summary>
/// The entry point of the S3 driver (<c>s3</c>): publishes the manifest embedded in this assembly and creates an
/// <see cref="S3Driver"/> per service.
/// </summary>
public sealed class S3DriverFactory : IDriverFactory, IDriverOptionsValidator
{
    /// <summary>The name under which manifest.json is embedded in this assembly.</summary>
    public const string ManifestResourceName = "Onitu.Drivers.S3.manifest.json";

    private static readonly Lazy<DriverManifest> LazyManifest =
        new(() => DriverManifest.FromEmbeddedResource(typeof(S3DriverFactory).Assembly, ManifestResourceName));

    /// <summary>Creates the factory; plugin hosts call this parameterless constructor.</summary>
    public S3DriverFactory()
    {
    }

    /// <inheritdoc />
    public DriverManifest Manifest => LazyManifest.Value;

    /// <inheritdoc />
    /// <exception cref="DriverException">The options are unusable.</exception>
    public IDriver Create(IPlug plug) => new S3Driver(plug);

    /// <inheritdoc />
    /// <remarks>
    /// Checks what the manifest cannot: an access key without its secret (or the reverse), a session token alone, an
    /// archive storage class.
    /// </remarks>
    public IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory) =>
        S3Options.Check(options).ToList();
}
