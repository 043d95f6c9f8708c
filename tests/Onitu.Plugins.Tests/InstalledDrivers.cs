using System.Runtime.Loader;
using Microsoft.Extensions.Logging.Abstractions;
using Onitu.Drivers;

namespace Onitu.Plugins.Tests;

/// <summary>
/// The bundled drivers as a user meets them without referencing them: packed with <c>dotnet pack</c>, installed by
/// <see cref="PluginInstaller"/> (<c>onitu drivers install</c>) and loaded by <see cref="PluginDriverLoader.LoadAll"/>
/// into a catalog without built-in drivers, as the CLI loads the plugins folder before it creates the engine. This
/// test assembly references none of the drivers (nor the AWS SDK), so whatever they need must come from their packages.
/// </summary>
internal static class InstalledDrivers
{
    /// <summary>Installs <paramref name="packages"/> into a fresh plugins folder under <paramref name="root"/> and loads them all.</summary>
    public static (DriverCatalog Catalog, IReadOnlyList<LoadedPlugin> Plugins) InstallAndLoad(string root, params string[] packages)
    {
        var installer = new PluginInstaller(Path.Combine(root, "plugins"));
        foreach (var package in packages)
            Assert.That(installer.Install(package).Warnings, Is.Empty, Path.GetFileName(package));
        var catalog = new DriverCatalog([]);
        var loaded = PluginDriverLoader.LoadAll(installer.PluginsDirectory, catalog, NullLogger.Instance);
        Assert.That(loaded, Has.Count.EqualTo(packages.Length), "every plugin loads");
        return (catalog, loaded);
    }

    public static SyncEngine CreateEngine(string root, string services, DriverCatalog catalog)
    {
        var setup = Path.Combine(root, "setup.yml");
        File.WriteAllText(setup, "name: plugin-drivers\nfolders:\n  docs: {}\nservices:\n" + services);
        return SyncEngine.Create(new SyncEngineOptions { SetupFile = setup, DatabasePath = Path.Combine(root, "state.db") }, catalog, NullLoggerFactory.Instance);
    }

    public static string LocalService(string name) => $"""
          {name}:
            driver: local_storage
            options: {"{"} root: {name} {"}"}
            folders: {"{"} docs: docs {"}"}

        """;

    /// <summary>What a plugin whose dependencies do not resolve in its load context fails with.</summary>
    public static readonly string[] LoadFailureWords =
        ["Could not load file or assembly", "FileNotFoundException", "FileLoadException", "TypeLoadException", "MissingMethodException", "TypeInitializationException"];

    /// <summary>Asserts that the assembly named <paramref name="name"/> is loaded in <paramref name="plugin"/>'s context, from its folder, and not in the host's.</summary>
    public static void AssertLoadedInPlugin(LoadedPlugin plugin, string name)
    {
        var inPlugin = plugin.Context.Assemblies.Where(a => a.GetName().Name == name).ToList();
        Assert.That(inPlugin, Has.Count.EqualTo(1), $"{name} is loaded in the plugin's context {plugin.Context.Name}");
        Assert.That(inPlugin[0].Location, Does.StartWith(plugin.Installed.PluginDirectory), $"{name} comes from the plugin's folder");
        Assert.That(AssemblyLoadContext.Default.Assemblies.Select(a => a.GetName().Name), Does.Not.Contain(name), $"{name} is not in the host's context");
    }
}
