using System.CommandLine;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu run &lt;setup&gt;</c>: scan, then watch and sync continuously until Ctrl+C.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Sync continuously: scan every service, then watch and sync until Ctrl+C.");
        CommonOptions.AddEngineOptions(command);
        command.SetAction((result, cancellationToken) => CommonOptions.WithEngineAsync(result, async engine =>
        {
            await engine.StartAsync(CancellationToken.None);
            Console.Error.WriteLine($"Onitu is syncing '{engine.Setup.Name}' ({engine.Setup.Services.Count} services). Press Ctrl+C to stop.");
            var mode = ProgressReporter.ModeFor(result.GetValue(CommonOptions.Quiet), result.GetValue(CommonOptions.Verbose));
            await ProgressReporter.RunAsync(engine, Console.Error, mode, cancellationToken);
            Console.Error.WriteLine("Stopping: unfinished transfers resume at the next start.");
            await engine.StopAsync(CancellationToken.None);
            return ExitCodes.Success;
        }));
        return command;
    }
}

/// <summary>The exit codes of the onitu command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The setup, an option or a flag is wrong; nothing was done.</summary>
    public const int SetupError = 1;
    /// <summary>A sync pass ended with work left undone (a failing service, a job that kept failing).</summary>
    public const int Incomplete = 2;
}
