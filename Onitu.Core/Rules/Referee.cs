using Onitu.Setup;

namespace Onitu.Rules;

/// <summary>
/// Decides where a file goes (the seed's Referee): a file from service S in folder F is sent to every other
/// service T mapped to F when S may read F, T may write F, and the file passes S's and T's effective rules for F.
/// </summary>
/// <remarks>
/// <para>
/// The effective rules of a service for a folder are the folder's options refined by the service's options for that
/// folder (<see cref="FolderRules.MergeWith"/>); they are computed once, in the constructor. A file that a service's
/// rules refuse "will never be read from or written to this folder" (seed): it is neither taken from it nor sent to it.
/// </para>
/// <para>
/// The referee is immutable and thread-safe; its queries do not allocate unless they return targets.
/// In a file under <c>namespace Onitu...</c>, the simple name <c>Referee</c> means this namespace: write
/// <c>using Onitu.Rules;</c> inside the namespace declaration, or an alias.
/// </para>
/// </remarks>
internal sealed class Referee
{
    private static readonly IReadOnlyList<string> NoTargets = [];

    private readonly Dictionary<string, FolderEntry> _folders = new(StringComparer.Ordinal);

    /// <summary>Prepares the rules of every service for every folder it maps.</summary>
    public Referee(OnituSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var mappings = new Dictionary<string, List<Mapping>>(StringComparer.Ordinal);
        foreach (var folder in setup.FolderNames)
            mappings[folder] = [];

        foreach (var service in setup.Services)
        {
            foreach (var mapped in service.Folders)
            {
                if (!setup.Folders.TryGetValue(mapped.Folder, out var folderRules))
                    throw new ArgumentException($"The service '{service.Name}' maps the folder '{mapped.Folder}' that the setup does not declare.", nameof(setup));
                var rules = folderRules.MergeWith(mapped.Rules);
                mappings[mapped.Folder].Add(new Mapping(service.Name, rules, rules.EffectiveMode));
            }
        }

        foreach (var (folder, list) in mappings)
            _folders[folder] = new FolderEntry([.. list], list.ToDictionary(m => m.Service, StringComparer.Ordinal));
    }

    /// <summary>Returns whether <paramref name="service"/> maps <paramref name="folder"/>.</summary>
    public bool IsMapped(string service, string folder) => TryGet(service, folder, out _);

    /// <summary>Returns whether changes in <paramref name="folder"/> on <paramref name="service"/> are taken into account (mode <c>r</c>).</summary>
    public bool CanRead(string service, string folder) =>
        TryGet(service, folder, out var mapping) && (mapping.Mode & AccessMode.Read) != 0;

    /// <summary>Returns whether changes from other services are written to <paramref name="folder"/> on <paramref name="service"/> (mode <c>w</c>).</summary>
    public bool CanWrite(string service, string folder) =>
        TryGet(service, folder, out var mapping) && (mapping.Mode & AccessMode.Write) != 0;

    /// <summary>Returns the effective rules of <paramref name="service"/> for <paramref name="folder"/>, or <see langword="null"/> when it does not map it.</summary>
    public FolderRules? GetRules(string service, string folder) =>
        TryGet(service, folder, out var mapping) ? mapping.Rules : null;

    /// <summary>
    /// Returns whether the file passes the effective rules of <paramref name="service"/> for <paramref name="folder"/>
    /// (type, size, blacklist, whitelist; not the mode). <see langword="false"/> when the service does not map the folder.
    /// </summary>
    public bool Accepts(string service, string folder, string path, long size, string mimeType)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(mimeType);
        return TryGet(service, folder, out var mapping) && mapping.Rules.AcceptsNormalized(Glob.NormalizePath(path), size, mimeType);
    }

    /// <summary>
    /// Returns the services a file seen on <paramref name="sourceService"/> must be sent to, in setup order: every
    /// other service mapped to <paramref name="folder"/> that may write it and whose rules accept the file. Empty when
    /// the source does not map the folder, may not read it, or its own rules refuse the file.
    /// </summary>
    /// <param name="sourceService">The service where the file changed.</param>
    /// <param name="folder">The folder of the file.</param>
    /// <param name="path">The path relative to the folder, <c>/</c>-separated.</param>
    /// <param name="size">The size in bytes.</param>
    /// <param name="mimeType">The file's media type.</param>
    public IReadOnlyList<string> GetTargets(string sourceService, string folder, string path, long size, string mimeType)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(mimeType);
        if (!TryGet(sourceService, folder, out var source, out var entry) || (source.Mode & AccessMode.Read) == 0)
            return NoTargets;
        var normalized = Glob.NormalizePath(path);
        if (!source.Rules.AcceptsNormalized(normalized, size, mimeType))
            return NoTargets;

        List<string>? targets = null;
        foreach (var target in entry.Mappings)
        {
            if ((target.Mode & AccessMode.Write) == 0
                || string.Equals(target.Service, sourceService, StringComparison.Ordinal)
                || !target.Rules.AcceptsNormalized(normalized, size, mimeType))
                continue;
            (targets ??= new List<string>(entry.Mappings.Length - 1)).Add(target.Service);
        }
        return targets ?? NoTargets;
    }

    private bool TryGet(string service, string folder, out Mapping mapping) => TryGet(service, folder, out mapping, out _);

    private bool TryGet(string service, string folder, out Mapping mapping, out FolderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(folder);
        if (_folders.TryGetValue(folder, out entry!) && entry.ByService.TryGetValue(service, out mapping))
            return true;
        mapping = default;
        return false;
    }

    private readonly record struct Mapping(string Service, FolderRules Rules, AccessMode Mode);

    private sealed record FolderEntry(Mapping[] Mappings, Dictionary<string, Mapping> ByService);
}
