using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Onitu.Drivers;

namespace Onitu;

/// <summary>Registers Onitu in a service collection.</summary>
public static class OnituServiceCollectionExtensions
{
    /// <summary>
    /// Adds a <see cref="SyncEngine"/> singleton configured by <paramref name="configure"/>, with its options
    /// validated when the engine is first resolved. Add drivers with the returned builder.
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddLogging();
    /// services.AddOnitu(o => o.SetupFile = "setup.yml")
    ///         .AddDriver&lt;LocalStorageDriverFactory&gt;();
    /// await using var provider = services.BuildServiceProvider();
    /// var engine = provider.GetRequiredService&lt;SyncEngine&gt;();
    /// await engine.StartAsync();
    /// </code>
    /// </example>
    public static OnituBuilder AddOnitu(this IServiceCollection services, Action<SyncEngineOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<SyncEngineOptions>();
        if (configure is not null)
            optionsBuilder.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SyncEngineOptions>, SyncEngineOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new DriverCatalog(sp.GetServices<IDriverFactory>()));
        services.TryAddSingleton(sp => SyncEngine.Create(
            sp.GetRequiredService<IOptions<SyncEngineOptions>>().Value,
            sp.GetRequiredService<DriverCatalog>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>()));
        return new OnituBuilder(services);
    }
}

/// <summary>Adds drivers to an Onitu registration.</summary>
public sealed class OnituBuilder
{
    internal OnituBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection Onitu is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Makes the driver of <typeparamref name="TFactory"/> available to setups.</summary>
    public OnituBuilder AddDriver<TFactory>() where TFactory : class, IDriverFactory
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IDriverFactory, TFactory>());
        return this;
    }

    /// <summary>Makes an already created driver factory available to setups.</summary>
    public OnituBuilder AddDriver(IDriverFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.AddSingleton(factory);
        return this;
    }
}
