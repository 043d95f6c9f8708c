using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Onitu.Hosting;

/// <summary>
/// Runs the registered <see cref="SyncEngine"/> for the lifetime of the host: started with it (a wrong setup fails
/// the start with the setup's message), stopped within the host's shutdown timeout without throwing.
/// </summary>
internal sealed partial class OnituHostedService(IServiceProvider services, ILogger<OnituHostedService> logger) : IHostedService
{
    private SyncEngine? _engine;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Resolved here, not in the constructor: the setup is loaded and validated now, and its errors fail the start.
        _engine = services.GetRequiredService<SyncEngine>();
        await _engine.StartAsync(cancellationToken).ConfigureAwait(false);
        Started(logger, _engine.Setup.Name, _engine.Setup.Services.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_engine is null)
            return;
        try
        {
            await _engine.StopAsync(cancellationToken).ConfigureAwait(false);
            Stopped(logger, _engine.Setup.Name);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Transfers keep their saved offsets: what did not finish resumes at the next start. The engine finishes
            // stopping when the host disposes it.
            StopTimedOut(logger, _engine.Setup.Name);
        }
    }

    [LoggerMessage(5001, LogLevel.Information, "Onitu is syncing '{Setup}' ({Services} services)")]
    private static partial void Started(ILogger logger, string setup, int services);

    [LoggerMessage(5002, LogLevel.Information, "Onitu stopped syncing '{Setup}'")]
    private static partial void Stopped(ILogger logger, string setup);

    [LoggerMessage(5003, LogLevel.Warning, "Onitu did not stop syncing '{Setup}' within the host's shutdown timeout; unfinished transfers resume at the next start")]
    private static partial void StopTimedOut(ILogger logger, string setup);
}
