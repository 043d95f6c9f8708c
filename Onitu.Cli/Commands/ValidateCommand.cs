using System.CommandLine;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu validate &lt;setup&gt;</c>: check a setup and its options without running anything.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var command = new Command("validate", "Check a setup file and every service's options against its driver's manifest.");
        command.Arguments.Add(CommonOptions.Setup);
        command.Options.Add(CommonOptions.Plugins);
        command.SetAction(result =>
        {
            var file = result.GetValue(CommonOptions.Setup)!.FullName;
            try
            {
                var setup = Setup.SetupLoader.LoadFile(file);
                using var logging = CommonOptions.WarningLogging();
                var drivers = CommonOptions.Drivers(result, logging.CreateLogger("Onitu.Plugins"));
                var errors = Options.SetupValidator.Validate(setup, drivers, out _);
                if (errors.Count > 0)
                {
                    foreach (var error in errors)
                        Console.Error.WriteLine(error);
                    return ExitCodes.SetupError;
                }
                Console.WriteLine($"{file}: valid ({setup.FolderNames.Count} folders, {setup.Services.Count} services).");
                return ExitCodes.Success;
            }
            catch (Setup.SetupException e)
            {
                Console.Error.WriteLine(e.Message);
                return ExitCodes.SetupError;
            }
        });
        return command;
    }
}
