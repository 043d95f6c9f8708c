using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Onitu.Hosting;

namespace Onitu.Cli.Commands;

/// <summary><c>onitu run &lt;setup&gt;</c>: scan, then watch and sync continuously until Ctrl+C.</summary>
internal static class RunCommand
{
    public static readonly Option<string?> Api = new("--api")
    {
        Description = "Serve the REST API 1.0 and the status page at address:port (default 127.0.0.1:3862). Beyond loopback, every request needs the token.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public static Command Create()
    {
        var command = new Command("run", "Sync continuously: scan every service, then watch and sync until Ctrl+C.");
        CommonOptions.AddEngineOptions(command);
        command.Options.Add(Api);
        command.SetAction((result, cancellationToken) => CommonOptions.WithEngineAsync(result, cancellationToken, async (engine, logging) =>
        {
            (string Host, int Port)? api = null;
            if (result.GetResult(Api) is not null)
            {
                try
                {
                    api = ApiServer.ParseEndpoint(result.GetValue(Api));
                }
                catch (FormatException e)
                {
                    Console.Error.WriteLine($"error: {e.Message}");
                    return ExitCodes.SetupError;
                }
            }

            await engine.StartAsync(CancellationToken.None);
            Console.Error.WriteLine($"Onitu is syncing '{engine.Setup.Name}' ({engine.Setup.Services.Count} services). Press Ctrl+C to stop.");
            WebApplication? web = null;
            if (api is { } endpoint)
            {
                web = await ApiServer.StartAsync(engine, endpoint.Host, endpoint.Port, logging);
                var token = web.Services.GetRequiredService<OnituApiToken>();
                var shown = endpoint.Host is "0.0.0.0" or "::" or "[::]" ? "127.0.0.1" : endpoint.Host;
                var url = $"http://{(shown.Contains(':', StringComparison.Ordinal) && !shown.StartsWith('[') ? $"[{shown}]" : shown)}:{endpoint.Port}/";
                Console.Error.WriteLine($"REST API at {url}api/v1.0 ({(ApiServer.IsLoopback(endpoint.Host) ? "loopback only; PUT needs the token" : "every request needs the token")}).");
                Console.Error.WriteLine($"API token (stored in {token.File}): {token.Value}");
                Console.Error.WriteLine($"Status page: {url}#token={token.Value}");
            }
            try
            {
                var mode = ProgressReporter.ModeFor(result.GetValue(CommonOptions.Quiet), result.GetValue(CommonOptions.Verbose));
                await ProgressReporter.RunAsync(engine, Console.Error, mode, cancellationToken);
            }
            finally
            {
                Console.Error.WriteLine("Stopping: unfinished transfers resume at the next start.");
                if (web is not null)
                {
                    // The API first: its event streams end and no control request races the engine's stop.
                    await web.StopAsync(CancellationToken.None);
                    await web.DisposeAsync();
                }
                await engine.StopAsync(CancellationToken.None);
            }
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
    /// <summary>Ctrl+C or SIGTERM arrived while the setup was loading; nothing was done (128 + SIGINT, as a shell reports it).</summary>
    public const int Interrupted = 130;
}
