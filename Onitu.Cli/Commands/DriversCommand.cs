using System.CommandLine;
using System.Globalization;
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
        var command = new Command("drivers", "List the available drivers (built-in and installed plugins) and their options.");
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
            var version = versions.TryGetValue(manifest.Id, out var v) ? v : factory.GetType().Assembly.GetName().Version?.ToString();
            Console.WriteLine($"{manifest.Id} {version} — {manifest.Name} ({catalog.OriginOf(manifest.Id)})");
            if (manifest.Description.Length > 0)
                Console.WriteLine($"  {manifest.Description}");
            foreach (var option in manifest.Options.Values)
            {
                var type = option.Type == OptionType.Enumerate
                    ? "enumerate: " + string.Join("|", option.Values)
                    : option.Type.ToString().ToLowerInvariant();
                var presence = option.IsMandatory ? "mandatory" : "default " + FormatDefault(option);
                Console.WriteLine($"  {option.Key,-18} {type,-12} {presence,-20} {option.Description}");
            }
            Console.WriteLine();
        }
        Console.WriteLine($"Plugins folder: {CommonOptions.PluginsDirectory(result)}");
        return ExitCodes.Success;
    }

    private static string FormatDefault(ManifestOption option) => option.IsSecret ? "(secret)" : option.Default switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => $"\"{other}\"",
    };
}
