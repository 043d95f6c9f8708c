using System.Collections.ObjectModel;
using Onitu.Rules;

namespace Onitu.Setup;

/// <summary>
/// A setup (the seed's configuration file): named folders with their options, and services (configured drivers)
/// mapping some of those folders. Read one with <see cref="SetupLoader"/>, or build one in code.
/// </summary>
public sealed class OnituSetup
{
    /// <summary>Creates a setup.</summary>
    /// <param name="name">The setup's name.</param>
    /// <param name="folders">The folders and their options, in the order to keep.</param>
    /// <param name="services">The services, in the order to keep.</param>
    /// <param name="sourceFile">The file the setup was read from, if any.</param>
    /// <param name="baseDirectory">The directory relative paths are resolved against (default: the source file's
    /// directory, else the current directory).</param>
    /// <exception cref="ArgumentException">Names repeat, or a service maps an undeclared folder.</exception>
    public OnituSetup(string name, IEnumerable<KeyValuePair<string, FolderRules>> folders, IEnumerable<ServiceSetup> services,
        string? sourceFile = null, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(folders);
        ArgumentNullException.ThrowIfNull(services);

        var ordered = new OrderedDictionary<string, FolderRules>(StringComparer.Ordinal);
        foreach (var (folder, rules) in folders)
        {
            ArgumentException.ThrowIfNullOrEmpty(folder, nameof(folders));
            if (!ordered.TryAdd(folder, rules ?? FolderRules.Empty))
                throw new ArgumentException($"The folder '{folder}' is declared twice.", nameof(folders));
        }

        var serviceList = services.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in serviceList)
        {
            ArgumentNullException.ThrowIfNull(service, nameof(services));
            if (!names.Add(service.Name))
                throw new ArgumentException($"The service '{service.Name}' is declared twice.", nameof(services));
            foreach (var mapped in service.Folders)
            {
                if (!ordered.ContainsKey(mapped.Folder))
                    throw new ArgumentException($"The service '{service.Name}' maps the folder '{mapped.Folder}' that is not declared under 'folders'.", nameof(services));
            }
        }

        Name = name;
        Folders = new ReadOnlyDictionary<string, FolderRules>(ordered);
        FolderNames = [.. ordered.Keys];
        Services = serviceList.AsReadOnly();
        SourceFile = sourceFile;
        BaseDirectory = ResolveBaseDirectory(sourceFile, baseDirectory);
    }

    /// <summary>The given base directory, else the source file's directory, else the current directory.</summary>
    internal static string ResolveBaseDirectory(string? sourceFile, string? baseDirectory) =>
        baseDirectory
            ?? (sourceFile is null ? null : Path.GetDirectoryName(Path.GetFullPath(sourceFile)))
            ?? Directory.GetCurrentDirectory();

    /// <summary>The setup's name.</summary>
    public string Name { get; }

    /// <summary>The file the setup was read from, or <see langword="null"/>.</summary>
    public string? SourceFile { get; }

    /// <summary>The directory relative paths of the setup are resolved against.</summary>
    public string BaseDirectory { get; }

    /// <summary>The folders with their folder-wide options; enumerates in file order.</summary>
    public IReadOnlyDictionary<string, FolderRules> Folders { get; }

    /// <summary>The folder names in file order.</summary>
    public IReadOnlyList<string> FolderNames { get; }

    /// <summary>The services in file order.</summary>
    public IReadOnlyList<ServiceSetup> Services { get; }

    /// <summary>Returns the service named <paramref name="name"/>, or <see langword="null"/>.</summary>
    public ServiceSetup? FindService(string name) =>
        Services.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({FolderNames.Count} folders, {Services.Count} services)";
}
