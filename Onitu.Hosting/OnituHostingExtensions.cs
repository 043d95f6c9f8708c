using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Onitu.Hosting;

/// <summary>Registers Onitu in a .NET Generic Host or an ASP.NET Core application.</summary>
public static class OnituHostingExtensions
{
    /// <summary>
    /// Adds a <see cref="SyncEngine"/> configured from <paramref name="configuration"/> (the properties of
    /// <see cref="SyncEngineOptions"/>: <c>SetupFile</c>, <c>DatabasePath</c>, <c>ChunkSize</c>, ...), started and
    /// stopped with the host (<see cref="AddHostedEngine"/>). The options are validated when the host starts, and
    /// relative paths are resolved against the host's content root.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddOnitu(builder.Configuration.GetSection("Onitu"))
    ///                 .AddDriver&lt;LocalStorageDriverFactory&gt;();
    /// </code>
    /// </example>
    public static OnituBuilder AddOnitu(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddOnitu();
        services.AddOptions<SyncEngineOptions>().Bind(configuration);
        return builder.AddHostedEngine();
    }

    /// <summary>
    /// Starts the engine with the host and stops it within the host's shutdown timeout (unfinished transfers resume
    /// at the next start); validates its options at start-up and resolves relative paths against the content root.
    /// A wrong setup fails the host's start with the setup's message.
    /// </summary>
    public static OnituBuilder AddHostedEngine(this OnituBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<SyncEngineOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<SyncEngineOptions>, ContentRootPaths>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, OnituHostedService>());
        return builder;
    }

    /// <summary>
    /// Adds a health check named <paramref name="name"/>: healthy while every service runs, degraded while some
    /// fail (with their reasons), unhealthy when the engine is not running.
    /// </summary>
    public static IHealthChecksBuilder AddOnitu(this IHealthChecksBuilder builder, string name = "onitu")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<OnituHealthCheck>(name, HealthStatus.Unhealthy, ["onitu"]);
    }

    /// <summary>Resolves a relative setup file and state database against the host's content root.</summary>
    private sealed class ContentRootPaths(IHostEnvironment? environment = null) : IPostConfigureOptions<SyncEngineOptions>
    {
        public void PostConfigure(string? name, SyncEngineOptions options)
        {
            if (environment is null)
                return;
            var root = environment.ContentRootPath;
            if (!string.IsNullOrWhiteSpace(options.SetupFile) && !Path.IsPathRooted(options.SetupFile))
                options.SetupFile = Path.GetFullPath(Path.Combine(root, options.SetupFile));
            if (!string.IsNullOrWhiteSpace(options.DatabasePath) && !Path.IsPathRooted(options.DatabasePath))
                options.DatabasePath = Path.GetFullPath(Path.Combine(root, options.DatabasePath));
        }
    }
}
