using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Onitu.Hosting;

namespace Onitu.Cli.Commands;

/// <summary>
/// <c>onitu run --api [address:port]</c>: the REST API 1.0 and the status page, served beside a running engine by
/// Kestrel. Loopback by default; any other address needs the token for every request.
/// </summary>
internal static class ApiServer
{
    /// <summary>Where the API listens: <c>address:port</c>, <c>address</c>, <c>:port</c> or <c>port</c>.</summary>
    public static (string Host, int Port) ParseEndpoint(string? text)
    {
        const string loopback = "127.0.0.1";
        if (string.IsNullOrWhiteSpace(text))
            return (loopback, OnituApiEndpoints.DefaultPort);
        text = text.Trim();
        if (int.TryParse(text, out var bare))
            return (loopback, CheckPort(bare, text));
        var colon = text.LastIndexOf(':');
        var bracketed = text.StartsWith('[');
        if (colon < 0 || (bracketed && colon < text.IndexOf(']', StringComparison.Ordinal)) || (!bracketed && text.Count(c => c == ':') > 1))
            return (CheckHost(text, text), OnituApiEndpoints.DefaultPort);
        var host = colon == 0 ? loopback : CheckHost(text[..colon], text);
        return int.TryParse(text[(colon + 1)..], out var port)
            ? (host, CheckPort(port, text))
            : throw new FormatException($"--api: '{text}' is not address:port (examples: 127.0.0.1:3862, 0.0.0.0:8080, :3862).");
    }

    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    public static async Task<WebApplication> StartAsync(SyncEngine engine, string host, int port, ILoggerFactory logging)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(logging);
        // The command handles Ctrl+C and SIGTERM itself (it stops the API, then the engine): no console lifetime.
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>();
        builder.Services.AddSingleton(engine);
        builder.Services.AddOnituApi(o => o.RequireTokenForReads = !IsLoopback(host));
        builder.Services.AddHealthChecks().AddOnitu();
        builder.WebHost.UseUrls($"http://{(host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host)}:{port}");
        var app = builder.Build();
        app.MapOnituApi();
        app.MapOnituStatusPage();
        app.MapHealthChecks("/health");
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }

    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static int CheckPort(int port, string text) =>
        port is > 0 and < 65536 ? port : throw new FormatException($"--api: '{text}' has no valid port (1 to 65535).");

    private static string CheckHost(string host, string text) =>
        host.Length > 0 && (IPAddress.TryParse(host.Trim('[', ']'), out _) || Uri.CheckHostName(host) == UriHostNameType.Dns)
            ? host
            : throw new FormatException($"--api: '{text}' is not address:port (examples: 127.0.0.1:3862, 0.0.0.0:8080, :3862).");
}
