using System.Text.Json;
using OpenAiRelay.AdminConsole;
using OpenAiRelay.Authentication;

namespace OpenAiRelay.Admin;

/// <summary>
/// Sign-in and sign-out of the web console. The admin token is sent once, in a JSON body (a cross-site HTML form cannot
/// send one), checked like a bearer token (constant time, failures counted per address), and exchanged for a
/// server-side session; the browser never keeps the token.
/// </summary>
internal static partial class AdminEndpoints
{
    private const int MaxSignInBytes = 4 * 1024;

    private static void MapSessionEndpoints(IEndpointRouteBuilder endpoints, byte[] expected)
    {
        endpoints.MapPost("/admin/session", (HttpContext context, ConsoleSessionStore sessions, FailedAuthThrottle throttle) => SignInAsync(context, sessions, throttle, expected));
        endpoints.MapGet("/admin/session", static (HttpContext context, ConsoleSessionStore sessions) =>
            sessions.Find(ConsoleRequests.SessionId(context.Request)) is { } session ? SessionJson(session) : Error(context, ConsolePages.SessionRequired));
        endpoints.MapDelete("/admin/session", static (HttpContext context, ConsoleSessionStore sessions) =>
        {
            var id = ConsoleRequests.SessionId(context.Request);
            if (sessions.Find(id) is not { } session)
            {
                ConsoleRequests.ClearCookie(context);
                return Error(context, ConsolePages.SessionRequired);
            }

            if (ConsoleRequests.Forgery(context.Request, session) is { } forgery)
            {
                return Error(context, AdminErrors.Forbidden(forgery));
            }

            sessions.Remove(id);
            ConsoleRequests.ClearCookie(context);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> SignInAsync(HttpContext context, ConsoleSessionStore sessions, FailedAuthThrottle throttle, byte[] expected)
    {
        var address = context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(address) is { } throttled)
        {
            return Throttled(context, throttled);
        }

        // Another site's page cannot sign a visitor in to this console (login CSRF): browsers say where a request
        // comes from, and a form cannot post JSON.
        var site = context.Request.Headers["Sec-Fetch-Site"];
        if (site.Count > 0 && site[0] is not ("same-origin" or "none"))
        {
            return Error(context, AdminErrors.Forbidden("The sign-in came from another site."));
        }

        if (!context.Request.HasJsonContentType())
        {
            return Error(context, AdminErrors.UnsupportedMediaType);
        }

        string? token = null;
        try
        {
            var body = await ReadBodyAsync(context, MaxSignInBytes);
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("token", out var value) && value.ValueKind == JsonValueKind.String)
            {
                token = value.GetString();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            return Error(context, AdminErrors.BadRequest("The body must be {\"token\": \"<RELAY_ADMIN_TOKEN>\"}, at most 4 KB."));
        }

        if (string.IsNullOrEmpty(token) || !IsAdminToken(token, expected))
        {
            return throttle.Failed(address) is { } wait ? Throttled(context, wait) : Error(context, AdminErrors.Unauthorized);
        }

        var (id, session) = sessions.Create();
        ConsoleRequests.SetCookie(context, id, session);
        return SessionJson(session);
    }

    private static IResult SessionJson(ConsoleSession session) => Json(StatusCodes.Status200OK, writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("object", "admin.session");
        writer.WriteString("csrf_token", session.CsrfToken);
        writer.WriteString("expires_at", session.ExpiresAt);
        writer.WriteNumber("idle_timeout_seconds", (long)ConsoleSessionStore.IdleTimeout.TotalSeconds);
        writer.WriteEndObject();
    });
}
