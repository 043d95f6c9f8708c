using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Onitu.Hosting;

/// <summary>
/// Reports the engine's health: healthy while every service is running (or scanning), degraded while one is
/// failing or was stopped by hand, unhealthy when the engine does not run. The data lists each service's state.
/// </summary>
public sealed class OnituHealthCheck(SyncEngine engine) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var statuses = engine.GetServiceStatuses();
        var data = statuses.ToDictionary(s => s.Name, s => (object)(s.Reason is null ? s.State.ToString() : $"{s.State}: {s.Reason}"));
        if (!engine.IsRunning)
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "The Onitu engine is not running.", data: data));
        var failing = statuses.Where(s => s.State == ServiceState.Failing).ToList();
        var stopped = statuses.Where(s => s.State == ServiceState.Stopped).ToList();
        if (failing.Count > 0 || stopped.Count > 0)
        {
            var parts = failing.Select(s => $"{s.Name} is failing: {s.Reason}").Concat(stopped.Select(s => $"{s.Name} is stopped"));
            return Task.FromResult(HealthCheckResult.Degraded(string.Join("; ", parts), data: data));
        }
        return Task.FromResult(HealthCheckResult.Healthy($"{statuses.Count} services running.", data));
    }
}
