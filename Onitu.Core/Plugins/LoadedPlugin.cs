namespace Onitu.Plugins;

/// <summary>A driver plugin loaded into its own <see cref="PluginLoadContext"/>: its factory, and a handle to unload it.</summary>
public sealed class LoadedPlugin
{
    private IDriverFactory? _factory;

    internal LoadedPlugin(InstalledPlugin installed, IDriverFactory factory, PluginLoadContext context, IReadOnlyList<string> warnings)
    {
        Installed = installed;
        _factory = factory;
        Context = context;
        Warnings = warnings;
    }

    /// <summary>The installed plugin this was loaded from.</summary>
    public InstalledPlugin Installed { get; }

    /// <summary>The driver id (the manifest's).</summary>
    public string Id => Installed.Manifest.Id;

    /// <summary>The driver's factory, an instance of the manifest's <c>entryType</c>.</summary>
    /// <exception cref="InvalidOperationException">The plugin was unloaded.</exception>
    public IDriverFactory Factory => _factory ?? throw new InvalidOperationException($"The plugin {Installed} was unloaded.");

    /// <summary>The plugin's own load context (collectible; the host's contract assemblies are shared with it).</summary>
    public System.Runtime.Loader.AssemblyLoadContext Context { get; }

    /// <summary>The origin shown for the driver in a <see cref="Drivers.DriverCatalog"/>: <c>plugin &lt;folder&gt;</c>.</summary>
    public string Origin => "plugin " + Installed.Directory;

    /// <summary>Problems found while loading that did not prevent it (also logged).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Starts unloading the plugin's context. It is collected once nothing references the factory, its drivers or any
    /// of the plugin's types any more (a catalog or engine holding the factory keeps it alive).
    /// </summary>
    public void Unload()
    {
        _factory = null;
        Context.Unload();
    }

    /// <inheritdoc />
    public override string ToString() => Installed.ToString();
}
