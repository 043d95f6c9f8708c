using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Onitu.Hosting;

/// <summary>
/// <c>GET /events</c>: the engine's events as server-sent events (<c>event: fileSynced</c>, <c>data: {json}</c>), until
/// the client goes away, the engine stops or the application begins to stop (so an open stream never holds up the
/// server's shutdown). A comment line every 15 seconds keeps proxies from closing it.
/// </summary>
internal static class EventStream
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static async Task WriteAsync(HttpContext context, SyncEngine engine)
    {
        var response = context.Response;
        var stopping = context.RequestServices.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var aborted = ending.Token;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.WriteAsync(": onitu events\n\n", aborted).ConfigureAwait(false);
        await response.Body.FlushAsync(aborted).ConfigureAwait(false);

        var events = engine.ReadEventsAsync(aborted).GetAsyncEnumerator(aborted);
        await using var disposeEvents = events.ConfigureAwait(false);
        var next = events.MoveNextAsync().AsTask();
        try
        {
            while (true)
            {
                var finished = await Task.WhenAny(next, Task.Delay(KeepAlive, aborted)).ConfigureAwait(false);
                if (finished != next)
                {
                    aborted.ThrowIfCancellationRequested();
                    await response.WriteAsync(": keep-alive\n\n", aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    continue;
                }
                if (!await next.ConfigureAwait(false))
                    break; // the engine stopped
                var syncEvent = events.Current;
                var json = JsonSerializer.Serialize(syncEvent, ApiJson.Options);
                var name = syncEvent.GetType().Name;
                var type = char.ToLowerInvariant(name[0]) + name[1..];
                await response.WriteAsync($"event: {type}\ndata: {json}\n\n", aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                next = events.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away, or the application is stopping.
        }
        finally
        {
            // The enumerator may only be disposed once no MoveNextAsync is pending.
            await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
