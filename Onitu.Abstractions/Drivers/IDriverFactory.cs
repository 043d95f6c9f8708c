namespace Onitu;

/// <summary>
/// The entry point of a driver: publishes its manifest and creates one driver per service that uses it.
/// A driver package names its factory type in its manifest (<see cref="DriverManifest.EntryType"/>); the type
/// needs a public parameterless constructor.
/// </summary>
public interface IDriverFactory
{
    /// <summary>The driver's manifest: its id, description and options.</summary>
    DriverManifest Manifest { get; }

    /// <summary>
    /// Creates the driver of one service. Called after the service's options were validated against
    /// <see cref="Manifest"/>; the driver should not touch its store until <see cref="IDriver.ScanAsync"/>.
    /// </summary>
    /// <exception cref="DriverException">The options are unusable in a way the manifest cannot express.</exception>
    IDriver Create(IPlug plug);
}
