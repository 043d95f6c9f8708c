using System.CommandLine;
using Onitu.Plugins;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu drivers remove &lt;id&gt;</c>: remove an installed driver plugin, by driver id or package id.</summary>
internal static class DriversRemoveCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The driver id (such as local_storage) or package id of the plugin." };

    public static Command Create()
    {
        var command = new Command("remove", "Remove an installed driver plugin (every installed version).");
        command.Arguments.Add(Id);
        command.SetAction(result =>
        {
            var installer = new PluginInstaller(CommonOptions.PluginsDirectory(result));
            var id = result.GetValue(Id)!;
            try
            {
                var removed = installer.Remove(id);
                if (removed.Count == 0)
                {
                    Console.Error.WriteLine($"error: no installed plugin has the id '{id}' (in {installer.PluginsDirectory}).");
                    return ExitCodes.SetupError;
                }
                foreach (var plugin in removed)
                    Console.WriteLine($"Removed driver {plugin.Manifest.Id} ({plugin.PackageId} {plugin.Version}).");
                return ExitCodes.Success;
            }
            catch (PluginException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.SetupError;
            }
        });
        return command;
    }
}
