namespace Onitu.Plugins;

/// <summary>Where things are in a driver package and in an installed plugin folder (the same relative layout).</summary>
internal static class PluginLayout
{
    /// <summary>The driver manifest, relative to the package root: <c>onitu/manifest.json</c>.</summary>
    public const string ManifestPath = "onitu/manifest.json";

    /// <summary>The folder holding the driver's full build output, relative to the package root: <c>onitu/plugin/</c>.</summary>
    public const string PluginFolder = "onitu/plugin/";

    /// <summary>The default plugins folder: <c>~/.onitu/plugins</c>.</summary>
    internal static string DefaultPluginsDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".onitu", "plugins");

    /// <summary>
    /// Picks the entry assembly among the files of the plugin folder (relative names, '/'-separated): the assembly
    /// named after the folder's only deps.json (the driver project's), or else the one named after the package id.
    /// </summary>
    internal static string? EntryAssemblyName(IEnumerable<string> pluginFiles, string packageId)
    {
        var top = pluginFiles.Where(f => !f.Contains('/', StringComparison.Ordinal)).ToList();
        var deps = top.Where(f => f.EndsWith(".deps.json", StringComparison.OrdinalIgnoreCase)).ToList();
        if (deps.Count == 1)
        {
            var name = deps[0][..^".deps.json".Length] + ".dll";
            return top.FirstOrDefault(f => string.Equals(f, name, StringComparison.OrdinalIgnoreCase));
        }
        return top.FirstOrDefault(f => string.Equals(f, packageId + ".dll", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Compares NuGet-style versions (numeric parts, then a release above its prereleases).</summary>
    internal static int CompareVersions(string a, string b)
    {
        static (Version Number, string Pre) Split(string v)
        {
            var plus = v.IndexOf('+', StringComparison.Ordinal);
            if (plus >= 0)
                v = v[..plus];
            var dash = v.IndexOf('-', StringComparison.Ordinal);
            var number = dash >= 0 ? v[..dash] : v;
            return (Version.TryParse(number.Contains('.', StringComparison.Ordinal) ? number : number + ".0", out var parsed) ? parsed : new Version(0, 0),
                dash >= 0 ? v[(dash + 1)..] : string.Empty);
        }
        var (na, pa) = Split(a);
        var (nb, pb) = Split(b);
        var c = na.CompareTo(nb);
        if (c != 0)
            return c;
        if (pa.Length == 0 || pb.Length == 0)
            return pa.Length == pb.Length ? 0 : pa.Length == 0 ? 1 : -1;
        return string.CompareOrdinal(pa, pb);
    }
}
