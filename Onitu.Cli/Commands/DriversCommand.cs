using System.CommandLine;
using System.Globalization;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu drivers</c>: the installed drivers and their options, from their manifests.</summary>
internal static class DriversCommand
{
    public static Command Create()
    {
        var command = new Command("drivers", "List the available drivers and their options.");
        command.SetAction(_ =>
        {
            var catalog = CommonOptions.Drivers();
            foreach (var factory in catalog.Factories)
            {
                var manifest = factory.Manifest;
                var version = factory.GetType().Assembly.GetName().Version;
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
            return ExitCodes.Success;
        });
        return command;
    }

    private static string FormatDefault(ManifestOption option) => option.IsSecret ? "(secret)" : option.Default switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => $"\"{other}\"",
    };
}
