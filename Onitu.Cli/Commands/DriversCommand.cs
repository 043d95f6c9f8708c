using System.CommandLine;
using System.Globalization;
using System.Reflection;
using Onitu.Plugins;

namespace Onitu.Cli.Commands;

/// <summary>
/// <c>onitu drivers</c>: the built-in and installed plugin drivers and their options, from their manifests;
/// <c>onitu drivers install &lt;file.nupkg&gt; [--force]</c> and <c>onitu drivers remove &lt;id&gt;</c> manage the plugins.
/// </summary>
internal static class DriversCommand
{
    public static Command Create()
    {
        var command = new Command("drivers",
            "List the available drivers (built-in and installed plugins) with their versions and options. " +
            "'onitu drivers install <file.nupkg>' installs a driver package, 'onitu drivers remove <id>' removes one.");
        CommonOptions.Plugins.Recursive = true;
        command.Options.Add(CommonOptions.Plugins);
        command.SetAction(List);
        command.Subcommands.Add(DriversInstallCommand.Create());
        command.Subcommands.Add(DriversRemoveCommand.Create());
        return command;
    }

    private static int List(ParseResult result)
    {
        using var logging = CommonOptions.WarningLogging();
        var catalog = CommonOptions.Drivers(result, logging.CreateLogger("Onitu.Plugins"), out var plugins);
        var versions = plugins.ToDictionary(p => p.Id, p => p.Installed.Version, StringComparer.Ordinal);
        foreach (var factory in catalog.Factories)
        {
            var manifest = factory.Manifest;
            var version = versions.TryGetValue(manifest.Id, out var v) ? v : PackageVersion(factory.GetType().Assembly);
            Console.WriteLine($"{manifest.Id} {version} — {manifest.Name} ({catalog.OriginOf(manifest.Id)})");
            if (manifest.Description.Length > 0)
                Console.WriteLine($"  {manifest.Description}");
            var rows = manifest.Options.Values.Select(option => (
                Key: option.Key,
                Type: option.Type == OptionType.Enumerate ? "enumerate: " + string.Join("|", option.Values) : option.Type.ToString().ToLowerInvariant(),
                Presence: option.IsMandatory ? "mandatory" : "default " + FormatDefault(option),
                option.Description)).ToList();
            // Columns as wide as their longest cell, so that a long option name or value list never runs into the next.
            var keyWidth = rows.Select(r => r.Key.Length).DefaultIfEmpty(0).Max();
            var typeWidth = rows.Select(r => r.Type.Length).DefaultIfEmpty(0).Max();
            var presenceWidth = rows.Select(r => r.Presence.Length).DefaultIfEmpty(0).Max();
            foreach (var row in rows)
                Console.WriteLine($"  {row.Key.PadRight(keyWidth)}  {row.Type.PadRight(typeWidth)}  {row.Presence.PadRight(presenceWidth)}  {row.Description}".TrimEnd());
            Console.WriteLine();
        }
        Console.WriteLine($"Plugins folder: {CommonOptions.PluginsDirectory(result)}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// The version a built-in driver was packed with: the assembly's informational version without its build metadata
    /// (<c>0.1.0+3c5f411…</c> is package 0.1.0), not its assembly version (which a contract may pin at x.y.0.0).
    /// </summary>
    internal static string? PackageVersion(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
            return assembly.GetName().Version?.ToString();
        var metadata = informational.IndexOf('+', StringComparison.Ordinal);
        return metadata < 0 ? informational : informational[..metadata];
    }

    private static string FormatDefault(ManifestOption option) => option.IsSecret ? "(secret)" : option.Default switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => $"\"{other}\"",
    };
}
