using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Onitu.Setup;

namespace Onitu.Hosting;

/// <summary>The REST API 1.0 of the original Onitu (routes under <c>/api/v1.0</c>), plus a stream of sync events.</summary>
public static class OnituApiEndpoints
{
    /// <summary>The route prefix of the API.</summary>
    public const string Prefix = "/api/v1.0";

    /// <summary>The port the original Onitu's API listened on.</summary>
    public const int DefaultPort = 3862;

    /// <summary>
    /// Registers what the API needs: its options and its token (<see cref="OnituApiToken"/>, whose file is created
    /// when the application starts if it is missing). Call it before <see cref="MapOnituApi"/>, with
    /// <paramref name="configure"/> to set <see cref="OnituApiOptions"/>.
    /// </summary>
    public static IServiceCollection AddOnituApi(this IServiceCollection services, Action<OnituApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<OnituApiOptions>();
        if (configure is not null)
            options.Configure(configure);
        services.TryAddSingleton<OnituApiToken>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ApiTokenAtStart>());
        services.TryAddSingleton<PendingRules>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>
    /// Maps the REST API: <c>GET /files</c>, <c>GET /files/{fid}/metadata</c>, <c>GET /entries</c>,
    /// <c>GET /entries/{name}</c>, <c>GET /entries/{name}/stats</c>, <c>GET /entries/{name}/status</c>,
    /// <c>PUT /entries/{name}/start|stop|restart|rescan</c>, <c>GET /rules</c>, <c>PUT /rules</c>,
    /// <c>PUT /rules/reload</c>, <c>GET /transfers</c>, <c>GET /progress</c>, <c>GET /events</c> (server-sent events)
    /// and <c>GET /events/recent</c>, under <paramref name="prefix"/>. Every <c>PUT</c>, and every request from
    /// beyond loopback, needs the token (<c>Authorization: Bearer &lt;token&gt;</c>).
    /// </summary>
    public static RouteGroupBuilder MapOnituApi(this IEndpointRouteBuilder endpoints, string prefix = Prefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<PendingRules>() is null)
            throw new InvalidOperationException($"Call services.{nameof(AddOnituApi)}() before {nameof(MapOnituApi)}().");
        var api = endpoints.MapGroup(prefix);
        api.AddEndpointFilter(TokenFilter);

        api.MapGet("/files", async (SyncEngine engine, string? offset, string? limit, string? folder, CancellationToken ct) =>
        {
            if (!TryPage(offset, limit, 20, out var from, out var count))
                return Json(ApiJson.Error(PageError), StatusCodes.Status400BadRequest);
            var files = await engine.GetFilesAsync(folder, from, count, ct).ConfigureAwait(false);
            return Json(new { files = files.Select(ApiJson.File) });
        });
        api.MapGet("/files/{fid}/metadata", async (SyncEngine engine, string fid, CancellationToken ct) =>
        {
            var file = Guid.TryParse(fid, out var id) ? await engine.GetFileAsync(id, ct).ConfigureAwait(false) : null;
            return file is null ? NotFound($"file {fid} not found") : Json(ApiJson.File(file));
        });

        api.MapGet("/entries", (SyncEngine engine) =>
            Json(new { entries = engine.Setup.Services.Select(s => ApiJson.Entry(engine, s)) }));
        api.MapGet("/entries/{name}", (SyncEngine engine, string name) =>
            engine.Setup.FindService(name) is { } service ? Json(ApiJson.Entry(engine, service)) : EntryNotFound(name));
        api.MapGet("/entries/{name}/status", (SyncEngine engine, TimeProvider clock, string name) =>
        {
            var status = engine.GetServiceStatuses().FirstOrDefault(s => s.Name == name);
            return status is null ? EntryNotFound(name) : Json(new
            {
                name,
                status = ApiJson.Status(status.State),
                state = status.State,
                reason = status.Reason,
                since = ApiJson.Time(status.Since),
                time = ApiJson.Time(clock.GetUtcNow()),
            });
        });
        api.MapGet("/entries/{name}/stats", async (SyncEngine engine, TimeProvider clock, string name, CancellationToken ct) =>
        {
            if (engine.Setup.FindService(name) is null)
                return EntryNotFound(name);
            var stats = await engine.GetServiceStatisticsAsync(name, ct).ConfigureAwait(false);
            if (stats.State == ServiceState.Stopped || !engine.IsRunning)
                return Conflict($"entry {name} is not running");
            var now = clock.GetUtcNow();
            return Json(new
            {
                info = new
                {
                    age = stats.RunningSince is { } since ? (now - since).TotalSeconds : 0,
                    started = stats.RunningSince is { } started ? ApiJson.Time(started) : (double?)null,
                    state = stats.State,
                    reason = stats.Reason,
                    files = stats.Files,
                    bytes = stats.Bytes,
                    pending = stats.PendingTransfers,
                    bytes_written = stats.BytesWritten,
                    transfers_done = stats.TransfersDone,
                    transfers_failed = stats.TransfersFailed,
                    rate = stats.Rate,
                    last_error = stats.LastError,
                    last_error_time = stats.LastErrorAt is { } at ? ApiJson.Time(at) : (double?)null,
                },
                name,
                status = "ok",
                time = ApiJson.Time(now),
            });
        });
        MapControl(api, "start", (engine, name, ct) => engine.StartServiceAsync(name, ct));
        MapControl(api, "stop", (engine, name, ct) => engine.StopServiceAsync(name, ct));
        MapControl(api, "restart", (engine, name, ct) => engine.RestartServiceAsync(name, ct));
        MapControl(api, "rescan", (engine, name, ct) => engine.RescanAsync(name, ct));

        api.MapGet("/rules", (SyncEngine engine, PendingRules pending) =>
            Json(new { rules = ApiJson.Rules(pending.Setup ?? engine.Setup), pending = pending.Setup is not null }));
        api.MapPut("/rules", async (SyncEngine engine, PendingRules pending, HttpRequest request, CancellationToken ct) =>
        {
            JsonElement document;
            try
            {
                document = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Json(ApiJson.Error("the body is not JSON: " + e.Message), StatusCodes.Status400BadRequest);
            }
            try
            {
                pending.Setup = ApiJson.ParseRules(engine.Setup, document);
            }
            catch (SetupException e)
            {
                return Json(ApiJson.Error(e.Message), StatusCodes.Status400BadRequest);
            }
            return Json(new { status = "ok" });
        });
        api.MapPut("/rules/reload", async (SyncEngine engine, PendingRules pending, CancellationToken ct) =>
        {
            try
            {
                var setup = pending.Setup;
                long added;
                if (setup is not null)
                    added = await engine.ReloadAsync(setup, ct).ConfigureAwait(false);
                else if (engine.Setup.SourceFile is not null)
                    added = await engine.ReloadAsync(ct).ConfigureAwait(false);
                else
                    return Json(new { status = "ok", added = 0 });
                pending.Setup = null;
                return Json(new { status = "ok", added });
            }
            catch (SetupException e)
            {
                return Json(ApiJson.Error(e.Message), StatusCodes.Status400BadRequest);
            }
        });

        api.MapGet("/transfers", async (SyncEngine engine, string? active, string? offset, string? limit, CancellationToken ct) =>
        {
            if (!TryPage(offset, limit, 100, out var from, out var count))
                return Json(ApiJson.Error(PageError), StatusCodes.Status400BadRequest);
            var activeOnly = false;
            if (active is not null && !bool.TryParse(active, out activeOnly))
                return Json(ApiJson.Error("active must be true or false"), StatusCodes.Status400BadRequest);
            var transfers = await engine.GetTransfersAsync(activeOnly, from, count, ct).ConfigureAwait(false);
            return Json(new { transfers = transfers.Select(ApiJson.Transfer) });
        });
        api.MapGet("/progress", async (SyncEngine engine, CancellationToken ct) =>
        {
            var progress = await engine.GetProgressAsync(ct).ConfigureAwait(false);
            return Json(new
            {
                setup = engine.Setup.Name,
                running = engine.IsRunning,
                pending = progress.PendingJobs,
                active = progress.ActiveTransfers,
                bytes_transferred = progress.BytesTransferred,
                files_synced = progress.FilesSynced,
            });
        });
        api.MapGet("/events/recent", (SyncEngine engine) => Json(new { events = engine.GetRecentEvents() }));
        api.MapGet("/events", EventStream.WriteAsync);
        // The original API answered JSON everywhere, unknown routes included.
        api.MapFallback((HttpRequest request) => NotFound($"no route {request.Method} {request.Path}"));
        return api;
    }

    private const string PageError = "offset must be a whole number from 0 and limit one from 1 to 1000";

    private static bool TryPage(string? offsetText, string? limitText, int defaultLimit, out int offset, out int limit)
    {
        offset = 0;
        limit = defaultLimit;
        return (offsetText is null || (int.TryParse(offsetText, out offset) && offset >= 0))
            && (limitText is null || (int.TryParse(limitText, out limit) && limit is >= 1 and <= 1000));
    }

    private static void MapControl(RouteGroupBuilder api, string action, Func<SyncEngine, string, CancellationToken, Task> control) =>
        api.MapPut("/entries/{name}/" + action, async (SyncEngine engine, TimeProvider clock, string name, CancellationToken ct) =>
        {
            try
            {
                await control(engine, name, ct).ConfigureAwait(false);
            }
            catch (ServiceNotFoundException)
            {
                return EntryNotFound(name);
            }
            catch (ServiceStateConflictException e)
            {
                return Conflict(e.Message);
            }
            return Json(new { name, status = "ok", time = ApiJson.Time(clock.GetUtcNow()) });
        });

    private static async ValueTask<object?> TokenFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var options = http.RequestServices.GetRequiredService<IOptions<OnituApiOptions>>().Value;
        var reading = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        var remote = http.Connection.RemoteIpAddress;
        // No remote address: an in-process client (TestServer) or a Unix socket; otherwise only loopback may read
        // without the token, and only under a loopback host name (a DNS-rebinding page names its own host).
        var local = (remote is null || IPAddress.IsLoopback(remote)) && IsLoopbackHost(http.Request.Host.Host);
        if (reading && local && !options.RequireTokenForReads)
            return await next(context).ConfigureAwait(false);

        var token = http.RequestServices.GetRequiredService<OnituApiToken>();
        if (token.Matches(PresentedToken(http.Request)))
            return await next(context).ConfigureAwait(false);
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Json(ApiJson.Error("this request needs the API token: send 'Authorization: Bearer <token>' (the token is in " +
            Path.GetFileName(token.File) + " beside the state database)"), StatusCodes.Status401Unauthorized);
    }

    private static bool IsLoopbackHost(string host) =>
        host.Length == 0 || host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    // Only from a header: a token in a URL would end up in request logs.
    private static string? PresentedToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    internal static IResult Json(object value, int status = StatusCodes.Status200OK) =>
        Results.Json(value, ApiJson.Options, statusCode: status);

    private static IResult NotFound(string reason) => Json(ApiJson.Error(reason), StatusCodes.Status404NotFound);

    private static IResult EntryNotFound(string name) => NotFound($"entry {name} not found");

    private static IResult Conflict(string reason) => Json(ApiJson.Error(reason), StatusCodes.Status409Conflict);
}

/// <summary>Rules sent with <c>PUT /rules</c>, applied by the next <c>PUT /rules/reload</c> (as the original API did).</summary>
internal sealed class PendingRules
{
    private volatile OnituSetup? _setup;

    public OnituSetup? Setup
    {
        get => _setup;
        set => _setup = value;
    }
}
