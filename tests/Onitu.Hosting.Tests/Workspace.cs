using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Onitu.Drivers.LocalStorage;

namespace Onitu.Hosting.Tests;

/// <summary>A scratch directory with a setup file and one directory per service, on the real disk.</summary>
internal sealed class Workspace : IDisposable
{
    public const string TwoServices = """
        name: web
        folders:
          docs: {}
        services:
          A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
          B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
        """;

    public Workspace(string yaml = TwoServices)
    {
        Root = Path.Combine(Path.GetTempPath(), "onitu-hosting-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        File.WriteAllText(Path.Combine(Root, "setup.yml"), yaml);
        foreach (var side in new[] { "A", "B" })
            Directory.CreateDirectory(PathOf(side, "docs"));
    }

    public string Root { get; }

    public string SetupFile => Path.Combine(Root, "setup.yml");

    public string DatabasePath => Path.Combine(Root, "setup.state.db");

    public static double TimeUnit =>
        double.TryParse(Environment.GetEnvironmentVariable("ONITU_TEST_TIME_UNIT"), System.Globalization.CultureInfo.InvariantCulture, out var unit) && unit > 0 ? unit : 1;

    public static TimeSpan Timeout(double units = 20) => TimeSpan.FromSeconds(units * TimeUnit);

    public string PathOf(string service, string relative = "") => Path.GetFullPath(Path.Combine(Root, service, relative));

    public void Write(string service, string relative, string content)
    {
        var path = PathOf(service, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    public bool Exists(string service, string relative) => File.Exists(PathOf(service, relative));

    public static Task EventuallyAsync(Func<bool> condition, string what, double units = 20) =>
        Eventually.HoldsAsync(condition, what, Timeout(units));

    public static Task EventuallyAsync(Func<Task<bool>> condition, string what, double units = 20) =>
        Eventually.HoldsAsync(condition, what, Timeout(units));

    /// <summary>
    /// An ASP.NET Core application as an embedding developer writes it: Onitu configured from configuration with the
    /// setup path relative to the content root, the hosted engine, the API and the status page. In memory
    /// (<paramref name="kestrelUrl"/> null) or on a real Kestrel socket.
    /// </summary>
    public WebApplication BuildApp(Action<OnituApiOptions>? api = null, string? kestrelUrl = null, Action<IServiceCollection>? services = null,
        Dictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Root, EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Onitu:SetupFile"] = "setup.yml",
            ["Onitu:RetryBaseDelay"] = "00:00:00.100",
            ["Onitu:MaxRetryDelay"] = "00:00:01",
        });
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders().AddProvider(new TestContextLoggerProvider(LogLevel.Information, "Microsoft.AspNetCore")).SetMinimumLevel(LogLevel.Information);
        if (kestrelUrl is null)
            builder.WebHost.UseTestServer();
        else
            builder.WebHost.UseUrls(kestrelUrl);
        builder.Services.AddOnitu(builder.Configuration.GetSection("Onitu")).AddDriver<LocalStorageDriverFactory>();
        builder.Services.AddOnituApi(api);
        builder.Services.AddHealthChecks().AddOnitu();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapOnituApi();
        app.MapOnituStatusPage();
        app.MapHealthChecks("/health");
        return app;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
