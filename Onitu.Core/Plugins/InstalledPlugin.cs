namespace Onitu.Plugins;

/// <summary>A driver package unpacked in a plugins folder, at <c>&lt;plugins&gt;/&lt;package id&gt;/&lt;version&gt;/</c>.</summary>
public sealed class InstalledPlugin
{
    internal InstalledPlugin(string packageId, string version, string directory, DriverManifest manifest, string entryAssemblyPath)
    {
        PackageId = packageId;
        Version = version;
        Directory = directory;
        Manifest = manifest;
        EntryAssemblyPath = entryAssemblyPath;
    }

    /// <summary>The package id (from its .nuspec), such as <c>Onitu.Drivers.LocalStorage</c>.</summary>
    public string PackageId { get; }

    /// <summary>The package version (from its .nuspec), such as <c>0.1.0</c>.</summary>
    public string Version { get; }

    /// <summary>The folder the package was unpacked into.</summary>
    public string Directory { get; }

    /// <summary>The driver manifest (<c>onitu/manifest.json</c>).</summary>
    public DriverManifest Manifest { get; }

    /// <summary>The driver assembly, in the plugin's <c>onitu/plugin/</c> folder.</summary>
    public string EntryAssemblyPath { get; }

    /// <summary>The folder holding the driver's build output.</summary>
    public string PluginDirectory => Path.GetDirectoryName(EntryAssemblyPath)!;

    /// <inheritdoc />
    public override string ToString() => $"{Manifest.Id} ({PackageId} {Version})";
}

/// <summary>What <see cref="PluginInstaller.Install"/> did.</summary>
public sealed class PluginInstallResult
{
    internal PluginInstallResult(InstalledPlugin plugin, IReadOnlyList<string> warnings, bool replaced)
    {
        Plugin = plugin;
        Warnings = warnings;
        Replaced = replaced;
    }

    /// <summary>The installed plugin.</summary>
    public InstalledPlugin Plugin { get; }

    /// <summary>Problems that did not prevent the installation (such as a bundled copy of Onitu.Abstractions, which is ignored).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Whether a copy of the same id and version was replaced (forced install).</summary>
    public bool Replaced { get; }
}
