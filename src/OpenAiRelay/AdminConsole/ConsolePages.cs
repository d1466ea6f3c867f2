using Microsoft.Net.Http.Headers;
using OpenAiRelay.Errors;

namespace OpenAiRelay.AdminConsole;

/// <summary>
/// The console's files under <c>/admin/</c>: the sign-in page and what it loads for anyone, the application only with
/// a live session. Without one, a page navigation is sent to the sign-in page and anything else gets 401, so no part
/// of the application (not even its scripts) is served to a visitor who has not signed in. Client-side routes are
/// hashes (<c>/admin/#/keys</c>), so <c>/admin/</c> is the application's one page.
/// </summary>
internal static class ConsolePages
{
    public const string LoginPath = "/admin/login";

    public static readonly RelayError SessionRequired = new(
        StatusCodes.Status401Unauthorized, "invalid_request_error", "session_required",
        "Sign in at /admin/login, or send RELAY_ADMIN_TOKEN as 'Authorization: Bearer <token>' to the JSON API.", ShouldRetry: false);

    public static void MapConsolePages(this IEndpointRouteBuilder endpoints)
    {
        // Routing matches /admin and /admin/ alike; the application is served at /admin/ only, its canonical address.
        endpoints.MapMethods("/admin", [HttpMethods.Get, HttpMethods.Head], static context =>
        {
            if (context.Request.Path.Value?.EndsWith('/') != true)
            {
                context.Response.Redirect("/admin/");
                return Task.CompletedTask;
            }

            return ServeAsync(context, "index.html");
        });
        endpoints.MapMethods(LoginPath, [HttpMethods.Get, HttpMethods.Head], static context => ServeAsync(context, "login.html"));
        endpoints.MapMethods("/admin/assets/{**path}", [HttpMethods.Get, HttpMethods.Head], static context =>
            ServeAsync(context, "assets/" + (string?)context.Request.RouteValues["path"]));
    }

    private static Task ServeAsync(HttpContext context, string path)
    {
        var asset = context.RequestServices.GetRequiredService<ConsoleAssets>().Find(path);
        if (asset is null)
        {
            return RelayErrorWriter.WriteAsync(context, RelayError.NotFound);
        }

        if (!asset.Public && context.RequestServices.GetRequiredService<ConsoleSessionStore>().Find(ConsoleRequests.SessionId(context.Request)) is null)
        {
            if (context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Redirect(LoginPath);
                return Task.CompletedTask;
            }

            return RelayErrorWriter.WriteAsync(context, SessionRequired);
        }

        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        // Scripts and styles may be kept, but must be revalidated: a relay upgrade is seen at the next load. The pages
        // themselves are no-store, as every other /admin answer (ConsoleSecurityHeaders).
        headers.CacheControl = asset.ContentType.StartsWith("text/html", StringComparison.Ordinal) ? "no-store" : "no-cache";

        if (context.Request.Headers.IfNoneMatch.ToString() is { Length: > 0 } match
            && EntityTagHeaderValue.TryParseList([match], out var tags) && tags.Any(t => t.Compare(new EntityTagHeaderValue(asset.ETag), useStrongComparison: true)))
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = asset.Content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync(asset.Content).AsTask();
    }
}
