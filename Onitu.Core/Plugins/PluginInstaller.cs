using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Onitu.Options;

namespace Onitu.Plugins;

/// <summary>
/// Installs driver packages (<c>.nupkg</c> files made by <c>dotnet pack</c> with the Onitu.Driver.Sdk targets)
/// into a plugins folder, without network: validates the package, then unpacks it atomically into
/// <c>&lt;plugins&gt;/&lt;package id&gt;/&lt;version&gt;/</c>. Also lists and removes installed plugins.
/// </summary>
public sealed partial class PluginInstaller
{
    /// <summary>Creates an installer for the plugins folder <paramref name="pluginsDirectory"/> (created on the first install).</summary>
    public PluginInstaller(string pluginsDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(pluginsDirectory);
        PluginsDirectory = Path.GetFullPath(pluginsDirectory);
    }

    /// <summary>The plugins folder.</summary>
    public string PluginsDirectory { get; }

    /// <summary>The default plugins folder: <c>~/.onitu/plugins</c>.</summary>
    public static string DefaultPluginsDirectory => PluginLayout.DefaultPluginsDirectory;

    /// <summary>Validates <paramref name="packagePath"/> and unpacks it into the plugins folder.</summary>
    /// <param name="packagePath">The .nupkg file.</param>
    /// <param name="force">Replace an installed copy of the same id and version instead of refusing.</param>
    /// <exception cref="PluginException">The package is not a valid, compatible driver package, or is already installed; the message says why.</exception>
    public PluginInstallResult Install(string packagePath, bool force = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(packagePath);
        if (!File.Exists(packagePath))
            throw new PluginException($"'{packagePath}' does not exist.");
        var what = $"'{Path.GetFileName(packagePath)}'";

        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(packagePath);
        }
        catch (InvalidDataException e)
        {
            throw new PluginException($"{what} is not a valid package: it is not a readable zip file (corrupt or truncated: {e.Message}).", e);
        }

        using (zip)
        {
            try
            {
                return InstallCore(zip, what, force);
            }
            catch (InvalidDataException e)
            {
                throw new PluginException($"{what} is not a valid package: an entry is corrupt ({e.Message}).", e);
            }
        }
    }

    private PluginInstallResult InstallCore(ZipArchive zip, string what, bool force)
    {
        {
            var warnings = new List<string>();
            IReadOnlyList<ZipArchiveEntry> entries;
            try
            {
                entries = zip.Entries;
            }
            catch (InvalidDataException e)
            {
                throw new PluginException($"{what} is not a valid package: its zip directory is corrupt ({e.Message}).", e);
            }

            // Zip-slip: every entry must land inside the target folder; checked before anything is written.
            var probeRoot = Path.Combine(PluginsDirectory, ".probe") + Path.DirectorySeparatorChar;
            foreach (var entry in entries)
            {
                if (!IsSafeEntryName(entry.FullName, probeRoot))
                    throw new PluginException($"{what} is refused: its entry '{entry.FullName}' would be written outside the plugin folder.");
            }

            var (id, version) = ReadNuspec(what, entries);
            var manifest = ReadManifest(what, entries);

            var pluginFiles = entries
                .Where(e => e.FullName.StartsWith(PluginLayout.PluginFolder, StringComparison.Ordinal) && e.Name.Length > 0)
                .Select(e => e.FullName[PluginLayout.PluginFolder.Length..])
                .ToList();
            if (pluginFiles.Count == 0)
                throw new PluginException($"{what} is not an Onitu driver package: it has no {PluginLayout.PluginFolder} folder with the driver's build output (pack it with the Onitu.Driver.Sdk package).");
            var entryName = PluginLayout.EntryAssemblyName(pluginFiles, id)
                ?? throw new PluginException($"{what} has no entry assembly in {PluginLayout.PluginFolder} (expected the assembly named after its deps.json, or {id}.dll).");
            var entryAssembly = zip.GetEntry(PluginLayout.PluginFolder + entryName)!;

            CheckEntryAssembly(what, entryAssembly, manifest);
            foreach (var file in pluginFiles)
            {
                if (PluginContract.IsContractAssembly(Path.GetFileNameWithoutExtension(file)) && file.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                    warnings.Add($"{what} carries its own {file}; it is ignored: the host's {PluginContract.ContractAssemblyName} {PluginContract.HostVersion} and contract assemblies are used.");
            }

            var idDirectory = Path.Combine(PluginsDirectory, id);
            var target = Path.Combine(idDirectory, version);
            var replaced = Directory.Exists(target);
            if (replaced && !force)
                throw new PluginException($"{id} {version} is already installed in {target}; install it with force (onitu drivers install --force) to replace it.");

            Directory.CreateDirectory(idDirectory);
            var temp = Path.Combine(idDirectory, $".install-{Guid.NewGuid():N}");
            try
            {
                Extract(entries, temp);
                if (replaced)
                {
                    var old = Path.Combine(idDirectory, $".old-{Guid.NewGuid():N}");
                    Directory.Move(target, old);
                    Directory.Move(temp, target);
                    TryDelete(old);
                }
                else
                {
                    Directory.Move(temp, target);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TryDelete(temp);
                throw new PluginException($"Could not unpack {what} into {target}: {e.Message}", e);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }

            var installed = new InstalledPlugin(id, version, target, manifest,
                Path.Combine(target, PluginLayout.PluginFolder, entryName));
            return new PluginInstallResult(installed, warnings, replaced);
        }
    }

    /// <summary>Every installed plugin (every version), by package id then version.</summary>
    /// <remarks>A folder that is not a readable plugin is skipped.</remarks>
    public IReadOnlyList<InstalledPlugin> List()
    {
        var result = new List<InstalledPlugin>();
        if (!Directory.Exists(PluginsDirectory))
            return result;
        foreach (var idDirectory in Directory.EnumerateDirectories(PluginsDirectory).Order(StringComparer.OrdinalIgnoreCase))
        {
            if (Path.GetFileName(idDirectory).StartsWith('.'))
                continue;
            foreach (var versionDirectory in Directory.EnumerateDirectories(idDirectory))
            {
                if (TryRead(versionDirectory, out var plugin, out _))
                    result.Add(plugin);
            }
        }
        result.Sort((a, b) =>
        {
            var c = string.Compare(a.PackageId, b.PackageId, StringComparison.OrdinalIgnoreCase);
            return c != 0 ? c : PluginLayout.CompareVersions(a.Version, b.Version);
        });
        return result;
    }

    /// <summary>
    /// Removes every installed version of the plugin whose package id, or driver id, is <paramref name="id"/>
    /// (case-insensitive).
    /// </summary>
    /// <returns>The removed plugins; empty when none matched.</returns>
    /// <exception cref="PluginException">A plugin folder could not be deleted.</exception>
    public IReadOnlyList<InstalledPlugin> Remove(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var matches = List()
            .Where(p => string.Equals(p.PackageId, id, StringComparison.OrdinalIgnoreCase) || string.Equals(p.Manifest.Id, id, StringComparison.Ordinal))
            .ToList();
        foreach (var idDirectory in matches.Select(p => Path.GetDirectoryName(p.Directory)!).Distinct(StringComparer.Ordinal))
        {
            // Move aside first so that a half-deleted plugin is never seen by a loader.
            var aside = Path.Combine(PluginsDirectory, $".remove-{Guid.NewGuid():N}");
            try
            {
                Directory.Move(idDirectory, aside);
                Directory.Delete(aside, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PluginException($"Could not remove {idDirectory}: {e.Message}", e);
            }
        }
        return matches;
    }

    /// <summary>Reads the installed plugin in <paramref name="directory"/> (a <c>&lt;plugins&gt;/&lt;id&gt;/&lt;version&gt;</c> folder).</summary>
    /// <exception cref="PluginException">The folder is not an installed plugin; the message says why.</exception>
    public static InstalledPlugin Read(string directory) =>
        TryRead(directory, out var plugin, out var error) ? plugin : throw new PluginException(error);

    internal static bool TryRead(string directory, out InstalledPlugin plugin, out string error)
    {
        plugin = null!;
        directory = Path.GetFullPath(directory);
        var manifestPath = Path.Combine(directory, PluginLayout.ManifestPath);
        if (!File.Exists(manifestPath))
        {
            error = $"{directory} is not an installed plugin: it has no {PluginLayout.ManifestPath}.";
            return false;
        }
        DriverManifest manifest;
        try
        {
            manifest = DriverManifest.Parse(File.ReadAllText(manifestPath));
        }
        catch (FormatException e)
        {
            error = $"{manifestPath}: {e.Message}";
            return false;
        }
        var version = Path.GetFileName(directory);
        var packageId = Path.GetFileName(Path.GetDirectoryName(directory)!);
        var nuspec = Directory.EnumerateFiles(directory, "*.nuspec").FirstOrDefault();
        if (nuspec is not null)
        {
            try
            {
                (packageId, version) = ParseNuspec(File.ReadAllText(nuspec));
            }
            catch (FormatException)
            {
                // keep the folder names
            }
        }
        var pluginDirectory = Path.Combine(directory, PluginLayout.PluginFolder);
        if (!Directory.Exists(pluginDirectory))
        {
            error = $"{directory} is not an installed plugin: it has no {PluginLayout.PluginFolder} folder.";
            return false;
        }
        var files = Directory.EnumerateFiles(pluginDirectory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(pluginDirectory, f).Replace(Path.DirectorySeparatorChar, '/'));
        var entry = PluginLayout.EntryAssemblyName(files, packageId);
        if (entry is null)
        {
            error = $"{directory} has no entry assembly in {PluginLayout.PluginFolder}.";
            return false;
        }
        plugin = new InstalledPlugin(packageId, version, directory, manifest, Path.Combine(pluginDirectory, entry));
        error = string.Empty;
        return true;
    }

    private static bool IsSafeEntryName(string name, string root)
    {
        if (name.Length == 0 || Path.IsPathRooted(name) || name.Contains('\\', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            return false;
        var full = Path.GetFullPath(Path.Combine(root, name));
        return full.StartsWith(root, StringComparison.Ordinal);
    }

    private static bool IsPackagingMetadata(string name) =>
        name == "[Content_Types].xml" || name.StartsWith("_rels/", StringComparison.Ordinal) || name.StartsWith("package/", StringComparison.Ordinal);

    private static (string Id, string Version) ReadNuspec(string what, IReadOnlyList<ZipArchiveEntry> entries)
    {
        var nuspecs = entries.Where(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.OrdinalIgnoreCase)).ToList();
        if (nuspecs.Count != 1)
            throw new PluginException($"{what} is not a driver package: it is not a NuGet package (it has {(nuspecs.Count == 0 ? "no" : "several")} .nuspec at its root).");
        try
        {
            return ParseNuspec(ReadText(nuspecs[0]));
        }
        catch (FormatException e)
        {
            throw new PluginException($"{what} has an unusable .nuspec: {e.Message}", e);
        }
    }

    internal static (string Id, string Version) ParseNuspec(string xml)
    {
        XDocument document;
        try
        {
            document = XDocument.Parse(xml);
        }
        catch (System.Xml.XmlException e)
        {
            throw new FormatException($"it is not XML ({e.Message}).", e);
        }
        var metadata = document.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata")
            ?? throw new FormatException("it has no <metadata>.");
        var id = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "id")?.Value.Trim();
        var version = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "version")?.Value.Trim();
        if (string.IsNullOrEmpty(id) || !SafeName().IsMatch(id) || id is "." or "..")
            throw new FormatException($"its id '{id}' is missing or not a valid package id.");
        if (string.IsNullOrEmpty(version) || !SafeName().IsMatch(version) || version is "." or "..")
            throw new FormatException($"its version '{version}' is missing or not a valid version.");
        return (id, version);
    }

    private static DriverManifest ReadManifest(string what, IReadOnlyList<ZipArchiveEntry> entries)
    {
        var entry = entries.FirstOrDefault(e => e.FullName == PluginLayout.ManifestPath)
            ?? throw new PluginException($"{what} is not an Onitu driver package: it has no {PluginLayout.ManifestPath}.");
        var json = ReadText(entry);
        var errors = ManifestSchemas.ValidateManifestJson(json);
        if (errors.Count > 0)
            throw new PluginException($"{what} has an invalid {PluginLayout.ManifestPath}:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", errors)}");
        DriverManifest manifest;
        try
        {
            manifest = DriverManifest.Parse(json);
        }
        catch (FormatException e)
        {
            throw new PluginException($"{what} has an invalid {PluginLayout.ManifestPath}: {e.Message}", e);
        }
        if (string.IsNullOrWhiteSpace(manifest.EntryType))
            throw new PluginException($"{what} has a manifest without 'entryType': a plugin host needs the full name of the driver's IDriverFactory type.");
        return manifest;
    }

    private static void CheckEntryAssembly(string what, ZipArchiveEntry entry, DriverManifest manifest)
    {
        using var image = new MemoryStream();
        using (var stream = entry.Open())
            stream.CopyTo(image);
        Version? contract;
        try
        {
            image.Position = 0;
            contract = PluginContract.ReadReferencedContractVersion(image);
            image.Position = 0;
            if (!PluginContract.DefinesType(image, manifest.EntryType!))
                throw new PluginException($"{what}: the entry type '{manifest.EntryType}' named by the manifest is not defined in {entry.Name}.");
        }
        catch (BadImageFormatException e)
        {
            throw new PluginException($"{what}: {entry.Name} is not a .NET assembly ({e.Message}).", e);
        }
        PluginContract.EnsureCompatible($"{what} ({entry.Name})", contract);
    }

    private static void Extract(IEnumerable<ZipArchiveEntry> entries, string temp)
    {
        Directory.CreateDirectory(temp);
        var root = Path.GetFullPath(temp) + Path.DirectorySeparatorChar;
        foreach (var entry in entries)
        {
            if (IsPackagingMetadata(entry.FullName))
                continue;
            var path = Path.GetFullPath(Path.Combine(root, entry.FullName));
            if (!path.StartsWith(root, StringComparison.Ordinal))
                throw new PluginException($"The entry '{entry.FullName}' would be written outside the plugin folder.");
            if (entry.FullName.EndsWith('/'))
            {
                Directory.CreateDirectory(path);
                continue;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            entry.ExtractToFile(path, overwrite: false);
        }
    }

    private static string ReadText(ZipArchiveEntry entry)
    {
        using var reader = new StreamReader(entry.Open(), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a leftover dot-folder is ignored by List() and the loader
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.+-]+$")]
    private static partial Regex SafeName();
}
