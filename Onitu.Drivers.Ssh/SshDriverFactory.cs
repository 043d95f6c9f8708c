namespace Onitu.Drivers.Ssh;

/// <summary>
/// The entry point of the SSH driver (<c>ssh</c>): publishes the manifest embedded in this assembly and creates an
/// <see cref="SshDriver"/> per service.
/// </summary>
public sealed class SshDriverFactory : IDriverFactory, IDriverOptionsValidator
{
    /// <summary>The name under which manifest.json is embedded in this assembly.</summary>
    public const string ManifestResourceName = "Onitu.Drivers.Ssh.manifest.json";

    private static readonly Lazy<DriverManifest> LazyManifest =
        new(() => DriverManifest.FromEmbeddedResource(typeof(SshDriverFactory).Assembly, ManifestResourceName));

    /// <summary>Creates the factory; plugin hosts call this parameterless constructor.</summary>
    public SshDriverFactory()
    {
    }

    /// <inheritdoc />
    public DriverManifest Manifest => LazyManifest.Value;

    /// <inheritdoc />
    /// <exception cref="DriverException">An option is out of range.</exception>
    public IDriver Create(IPlug plug) => new SshDriver(plug);

    /// <inheritdoc />
    /// <remarks>
    /// Checks what the manifest cannot: quotes in <c>ssh-options</c>, a host or user ssh would read as an option,
    /// a <c>request-size</c> between 1 and 1023, an identity file that does not exist, an ssh executable not found.
    /// </remarks>
    public IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory) =>
        SshOptions.Check(options, baseDirectory).ToList();
}
