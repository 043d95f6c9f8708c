using System.Reflection;
using System.Runtime.Loader;

namespace Onitu.Plugins;

/// <summary>
/// The isolated, collectible load context of one driver plugin. The contract assemblies (Onitu.Abstractions and the
/// <c>Microsoft.Extensions.*.Abstractions</c> it exposes) always come from the host, so that the driver's
/// <see cref="IDriverFactory"/> is the host's type; every other assembly, and every native library, resolves from the
/// plugin's own deps.json (its private dependencies, at the versions it was built with).
/// </summary>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    /// <summary>Creates the context of the plugin whose driver assembly is <paramref name="entryAssemblyPath"/>.</summary>
    public PluginLoadContext(string entryAssemblyPath, string? name = null)
        : base(name ?? "onitu-plugin:" + Path.GetFileNameWithoutExtension(entryAssemblyPath), isCollectible: true)
    {
        ArgumentException.ThrowIfNullOrEmpty(entryAssemblyPath);
        EntryAssemblyPath = Path.GetFullPath(entryAssemblyPath);
        _resolver = new AssemblyDependencyResolver(EntryAssemblyPath);
    }

    /// <summary>The driver assembly the context resolves dependencies for.</summary>
    public string EntryAssemblyPath { get; }

    /// <summary>Loads the driver assembly into this context.</summary>
    public Assembly LoadEntryAssembly() => LoadFromAssemblyPath(EntryAssemblyPath);

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (string.Equals(assemblyName.Name, PluginContract.ContractAssemblyName, StringComparison.OrdinalIgnoreCase))
            return null; // always the host's: the default context provides it, so that type identity holds
        if (PluginContract.IsContractAssembly(assemblyName.Name))
        {
            try
            {
                return Default.LoadFromAssemblyName(assemblyName); // shared with the host when the host has it
            }
            catch (FileNotFoundException)
            {
                // the host does not have this abstraction: the plugin's own copy (if any) is used below
            }
        }
        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    /// <inheritdoc />
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
