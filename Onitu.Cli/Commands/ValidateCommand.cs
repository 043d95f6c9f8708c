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
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                // Loading is synchronous: off the signal-handling thread, stopped between two YAML events by Ctrl+C or
                // SIGTERM, and abandoned if a read hangs (a dead mount, a pipe).
                return await Task.Run(() => Validate(result, cancellationToken), cancellationToken).WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Console.Error.WriteLine("Interrupted while loading the setup.");
                return ExitCodes.Interrupted;
            }
        });
        return command;
    }

    private static int Validate(ParseResult result, CancellationToken cancellationToken)
    {
        var file = result.GetValue(CommonOptions.Setup)!.FullName;
        Setup.OnituSetup? setup = null;
        Setup.SetupException? failure = null;
        try
        {
            setup = Setup.SetupLoader.LoadFile(file, cancellationToken);
        }
        catch (Setup.SetupException e)
        {
            failure = e;
        }
        using var logging = CommonOptions.WarningLogging();
        var drivers = CommonOptions.Drivers(result, logging.CreateLogger("Onitu.Plugins"));
        // A setup with problems still has its services' options checked: every problem in one pass.
        var errors = setup is not null ? Options.SetupValidator.Validate(setup, drivers, out _) : Options.SetupValidator.Validate(failure!, drivers);
        if (errors.Count > 0)
        {
            foreach (var error in errors)
                Console.Error.WriteLine(error);
            return ExitCodes.SetupError;
        }
        Console.WriteLine($"{file}: valid ({setup!.FolderNames.Count} folders, {setup.Services.Count} services).");
        return ExitCodes.Success;
    }
}
