using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Onitu.Hosting;

/// <summary>The web status page: plain HTML, CSS and JavaScript embedded in this assembly, over the REST API.</summary>
public static class StatusPageEndpoints
{
    private static readonly (string Name, string ContentType)[] Files =
    [
        ("index.html", "text/html; charset=utf-8"),
        ("status.css", "text/css; charset=utf-8"),
        ("status.js", "text/javascript; charset=utf-8"),
    ];

    /// <summary>
    /// Maps the status page at <paramref name="pattern"/> (its files beside it). It calls the API mapped by
    /// <see cref="OnituApiEndpoints.MapOnituApi"/> at <c>api/v1.0</c> relative to the page.
    /// </summary>
    public static RouteGroupBuilder MapOnituStatusPage(this IEndpointRouteBuilder endpoints, string pattern = "/")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var contents = Files.ToDictionary(f => f.Name, f => (Content: Load(f.Name), f.ContentType), StringComparer.Ordinal);
        var page = endpoints.MapGroup(pattern);
        page.MapGet("/", (HttpContext context) => Serve(context, contents["index.html"]));
        foreach (var (name, _) in Files)
            page.MapGet("/" + name, (HttpContext context) => Serve(context, contents[name]));
        return page;
    }

    private static IResult Serve(HttpContext context, (byte[] Content, string ContentType) file)
    {
        var headers = context.Response.Headers;
        // Only this page's own script and the API: nothing injected runs, and no other site frames the buttons.
        headers.ContentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-cache";
        return Results.Bytes(file.Content, file.ContentType);
    }

    private static byte[] Load(string name)
    {
        var resource = "Onitu.Hosting.StatusPage." + name;
        using var stream = typeof(StatusPageEndpoints).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The status page resource {resource} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
