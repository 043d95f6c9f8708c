using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Onitu.Plugins;

/// <summary>
/// The driver contract as the plugin host sees it: which assemblies are shared with the host (so that type identity
/// holds), the host's contract version, and the version a driver was built against, read without loading it.
/// </summary>
internal static class PluginContract
{
    /// <summary>The simple name of the contract assembly.</summary>
    public const string ContractAssemblyName = "Onitu.Abstractions";

    /// <summary>The version of Onitu.Abstractions this host runs (a driver built against a newer one is refused).</summary>
    public static Version HostVersion { get; } = typeof(IDriverFactory).Assembly.GetName().Version ?? new Version(0, 0);

    /// <summary>
    /// Whether the assembly named <paramref name="simpleName"/> is always taken from the host: Onitu.Abstractions and
    /// the <c>Microsoft.Extensions.*.Abstractions</c> assemblies it exposes (logging, dependency injection).
    /// </summary>
    public static bool IsContractAssembly(string? simpleName) =>
        simpleName is not null
        && (string.Equals(simpleName, ContractAssemblyName, StringComparison.OrdinalIgnoreCase)
            || (simpleName.StartsWith("Microsoft.Extensions.", StringComparison.OrdinalIgnoreCase)
                && simpleName.EndsWith(".Abstractions", StringComparison.OrdinalIgnoreCase)));

    /// <summary>Reads, without loading the assembly, the Onitu.Abstractions version it references (null if none).</summary>
    /// <exception cref="BadImageFormatException">The stream is not a .NET assembly.</exception>
    public static Version? ReadReferencedContractVersion(Stream assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var pe = new PEReader(assembly, PEStreamOptions.LeaveOpen | PEStreamOptions.PrefetchEntireImage);
        if (!pe.HasMetadata)
            throw new BadImageFormatException("The file is not a .NET assembly (no metadata).");
        var reader = pe.GetMetadataReader();
        foreach (var handle in reader.AssemblyReferences)
        {
            var reference = reader.GetAssemblyReference(handle);
            if (string.Equals(reader.GetString(reference.Name), ContractAssemblyName, StringComparison.OrdinalIgnoreCase))
                return reference.Version;
        }
        return null;
    }

    /// <summary>Whether the assembly defines the (top-level or nested with '+') type <paramref name="fullName"/>, read without loading it.</summary>
    public static bool DefinesType(Stream assembly, string fullName)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(fullName);
        using var pe = new PEReader(assembly, PEStreamOptions.LeaveOpen | PEStreamOptions.PrefetchEntireImage);
        var reader = pe.GetMetadataReader();
        foreach (var handle in reader.TypeDefinitions)
        {
            if (NameOf(reader, handle) == fullName)
                return true;
        }
        return false;
    }

    private static string NameOf(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        var name = reader.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        if (!declaring.IsNil)
            return NameOf(reader, declaring) + "+" + name;
        var ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    /// <summary>Throws when <paramref name="builtAgainst"/> is newer than the host's contract.</summary>
    /// <exception cref="PluginException">The driver needs a newer Onitu.Abstractions than the host's.</exception>
    internal static void EnsureCompatible(string what, Version? builtAgainst)
    {
        if (builtAgainst is null)
            throw new PluginException($"{what} does not reference {ContractAssemblyName}: it is not an Onitu driver.");
        if (builtAgainst > HostVersion)
            throw new PluginException(
                $"{what} was built against {ContractAssemblyName} {builtAgainst}, newer than this host's {ContractAssemblyName} {HostVersion}: update Onitu, or install a version of the driver built for {HostVersion}.");
    }

    internal static string Describe(AssemblyName name) => name.Name ?? name.FullName;
}
