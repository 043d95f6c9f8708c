using System.Reflection;
using Microsoft.Extensions.Logging;
using Onitu.Drivers;

namespace Onitu.Plugins;

/// <summary>
/// Loads installed driver plugins, each into its own <see cref="PluginLoadContext"/>, and adds them to a
/// <see cref="DriverCatalog"/> beside the built-in drivers.
/// </summary>
public static partial class PluginDriverLoader
{
    /// <summary>Loads the plugin unpacked in <paramref name="pluginDirectory"/> (a <c>&lt;plugins&gt;/&lt;id&gt;/&lt;version&gt;</c> folder).</summary>
    /// <exception cref="PluginException">The plugin is not loadable; the message says why.</exception>
    public static LoadedPlugin Load(string pluginDirectory, ILogger? logger = null) => Load(PluginInstaller.Read(pluginDirectory), logger);

    /// <summary>Loads <paramref name="plugin"/> into a new collectible load context and instantiates its factory.</summary>
    /// <exception cref="PluginException">
    /// The plugin was built against a newer contract than the host's (the message names both versions), its entry type
    /// is missing, is not an <see cref="IDriverFactory"/>, or cannot be created.
    /// </exception>
    public static LoadedPlugin Load(InstalledPlugin plugin, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var what = $"The plugin {plugin} in {plugin.Directory}";
        var warnings = new List<string>();
        foreach (var file in Directory.EnumerateFiles(plugin.PluginDirectory, "*.dll"))
        {
            if (PluginContract.IsContractAssembly(Path.GetFileNameWithoutExtension(file)))
            {
                var warning = $"{what} carries its own {Path.GetFileName(file)} ({file}); it is ignored: the host's copy is used.";
                warnings.Add(warning);
                if (logger is not null)
                    LogWarning(logger, warning);
            }
        }

        if (!File.Exists(plugin.EntryAssemblyPath))
            throw new PluginException($"{what} has no driver assembly {plugin.EntryAssemblyPath}.");
        Version? contract;
        try
        {
            using var stream = File.OpenRead(plugin.EntryAssemblyPath);
            contract = PluginContract.ReadReferencedContractVersion(stream);
        }
        catch (BadImageFormatException e)
        {
            throw new PluginException($"{what}: {plugin.EntryAssemblyPath} is not a .NET assembly ({e.Message}).", e);
        }
        PluginContract.EnsureCompatible(what, contract);

        var entryType = plugin.Manifest.EntryType;
        if (string.IsNullOrWhiteSpace(entryType))
            throw new PluginException($"{what} has a manifest without 'entryType'.");

        var context = new PluginLoadContext(plugin.EntryAssemblyPath, $"onitu-plugin:{plugin.PackageId}/{plugin.Version}");
        try
        {
            var assembly = context.LoadEntryAssembly();
            var type = assembly.GetType(entryType, throwOnError: false)
                ?? throw new PluginException($"{what}: the entry type '{entryType}' is not defined in {Path.GetFileName(plugin.EntryAssemblyPath)}.");
            if (!typeof(IDriverFactory).IsAssignableFrom(type))
                throw new PluginException(
                    $"{what}: the entry type '{entryType}' is not an {typeof(IDriverFactory).FullName} (of the host's {PluginContract.ContractAssemblyName} {PluginContract.HostVersion}).");
            if (type.IsAbstract || type.GetConstructor(Type.EmptyTypes) is null)
                throw new PluginException($"{what}: the entry type '{entryType}' has no public parameterless constructor.");
            IDriverFactory factory;
            try
            {
                factory = (IDriverFactory)Activator.CreateInstance(type)!;
            }
            catch (TargetInvocationException e)
            {
                throw new PluginException($"{what}: the constructor of '{entryType}' failed: {e.InnerException?.Message ?? e.Message}", e.InnerException ?? e);
            }
            var id = factory.Manifest.Id;
            if (!string.Equals(id, plugin.Manifest.Id, StringComparison.Ordinal))
                throw new PluginException($"{what}: its factory publishes the driver id '{id}', but its {PluginLayout.ManifestPath} says '{plugin.Manifest.Id}'.");
            return new LoadedPlugin(plugin, factory, context, warnings);
        }
        catch (Exception e) when (e is not PluginException)
        {
            context.Unload();
            throw new PluginException($"{what} could not be loaded: {e.Message}", e);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    /// <summary>
    /// Loads the newest installed version of every plugin in <paramref name="pluginsDirectory"/> and adds each to
    /// <paramref name="catalog"/> with the origin <c>plugin &lt;folder&gt;</c>. A plugin that cannot be loaded, or
    /// whose driver id the catalog already has (a built-in driver wins), is logged and skipped.
    /// </summary>
    /// <returns>The plugins loaded and added.</returns>
    public static IReadOnlyList<LoadedPlugin> LoadAll(string pluginsDirectory, DriverCatalog catalog, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pluginsDirectory);
        ArgumentNullException.ThrowIfNull(catalog);
        var loaded = new List<LoadedPlugin>();
        if (!Directory.Exists(pluginsDirectory))
            return loaded;
        var installed = new PluginInstaller(pluginsDirectory).List()
            .GroupBy(p => p.PackageId, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.Aggregate((a, b) => PluginLayout.CompareVersions(a.Version, b.Version) >= 0 ? a : b));
        foreach (var plugin in installed)
        {
            if (catalog.OriginOf(plugin.Manifest.Id) is { } origin)
            {
                if (logger is not null)
                    LogSkipped(logger, plugin.ToString(), plugin.Directory, plugin.Manifest.Id, origin);
                continue;
            }
            try
            {
                var result = Load(plugin, logger);
                catalog.Add(result.Factory, result.Origin);
                loaded.Add(result);
                if (logger is not null)
                    LogLoaded(logger, plugin.Manifest.Id, plugin.Version, plugin.Directory);
            }
            catch (OnituException e)
            {
                if (logger is not null)
                    LogFailed(logger, plugin.ToString(), e.Message);
            }
        }
        return loaded;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogWarning(ILogger logger, string warning);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plugin {Plugin} in {Directory} skipped: the driver id '{Id}' is already provided by {Origin}.")]
    private static partial void LogSkipped(ILogger logger, string plugin, string directory, string id, string origin);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Loaded driver plugin {Id} {Version} from {Directory}.")]
    private static partial void LogLoaded(ILogger logger, string id, string version, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "Plugin {Plugin} not loaded: {Reason}")]
    private static partial void LogFailed(ILogger logger, string plugin, string reason);
}
