using System.CommandLine;
using Onitu.Plugins;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu drivers install &lt;file.nupkg&gt; [--force]</c>: validate a driver package and unpack it into the plugins folder.</summary>
internal static class DriversInstallCommand
{
    private static readonly Argument<FileInfo> Package = new("package") { Description = "The driver package (.nupkg) made by dotnet pack." };

    private static readonly Option<bool> Force = new("--force") { Description = "Replace an installed copy of the same id and version." };

    public static Command Create()
    {
        var command = new Command("install", "Validate a driver package (.nupkg) and install it into the plugins folder.");
        command.Arguments.Add(Package);
        command.Options.Add(Force);
        command.SetAction(result =>
        {
            var installer = new PluginInstaller(CommonOptions.PluginsDirectory(result));
            PluginInstallResult installed;
            try
            {
                installed = installer.Install(result.GetValue(Package)!.FullName, result.GetValue(Force));
            }
            catch (PluginException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.SetupError;
            }
            foreach (var warning in installed.Warnings)
                Console.Error.WriteLine($"warning: {warning}");

            // Load it once, in its own context, to prove the host can use it.
            try
            {
                var loaded = PluginDriverLoader.Load(installed.Plugin);
                loaded.Unload();
            }
            catch (PluginException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                if (!installed.Replaced)
                    Directory.Delete(installed.Plugin.Directory, recursive: true);
                return ExitCodes.SetupError;
            }

            var plugin = installed.Plugin;
            Console.WriteLine($"{(installed.Replaced ? "Replaced" : "Installed")} driver {plugin.Manifest.Id} ({plugin.PackageId} {plugin.Version}) in {plugin.Directory}.");
            return ExitCodes.Success;
        });
        return command;
    }
}
