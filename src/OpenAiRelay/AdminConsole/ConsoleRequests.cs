using System.Security.Cryptography;
using System.Text;

namespace OpenAiRelay.AdminConsole;

/// <summary>
/// How a browser request proves it is the signed-in console's: the session cookie names a live session, and a request
/// that changes something also carries the session's anti-forgery token in <c>X-Relay-CSRF</c> (which a cross-site form
/// or a cross-origin <c>fetch</c> without CORS cannot set) and does not come from another site by its own
/// <c>Origin</c> or <c>Sec-Fetch-Site</c>. <c>SameSite=Strict</c> on the cookie is the first line; these do not rely on it.
/// </summary>
internal static class ConsoleRequests
{
    public const string CookieName = "relay_admin";
    public const string CsrfHeader = "X-Relay-CSRF";

    public static string? SessionId(HttpRequest request) => request.Cookies[CookieName];

    /// <summary>Null when the request may go on; otherwise why it may not (for the 403's message).</summary>
    public static string? Forgery(HttpRequest request, ConsoleSession session)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return null;
        }

        var site = request.Headers["Sec-Fetch-Site"];
        if (site.Count > 0 && site[0] is not ("same-origin" or "none"))
        {
            return "The request came from another site.";
        }

        var origin = request.Headers.Origin;
        if (origin.Count > 0 && !string.Equals(origin[0], request.Scheme + "://" + request.Host.Value, StringComparison.OrdinalIgnoreCase))
        {
            return "The request's Origin is not this relay.";
        }

        var token = request.Headers[CsrfHeader];
        if (token.Count != 1 || !FixedTimeEquals(token[0], session.CsrfToken))
        {
            return $"A change from the console needs its anti-forgery token in {CsrfHeader}.";
        }

        return null;
    }

    /// <summary>The cookie of a new session: readable by no script, sent to /admin only, never from another site.</summary>
    public static void SetCookie(HttpContext context, string sessionId, ConsoleSession session) =>
        context.Response.Cookies.Append(CookieName, sessionId, new CookieOptions
        {
            HttpOnly = true,
            // Behind nginx the relay sees https through X-Forwarded-Proto (from a trusted proxy only).
            Secure = context.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/admin",
            MaxAge = session.ExpiresAt - session.CreatedAt,
            IsEssential = true,
        });

    public static void ClearCookie(HttpContext context) =>
        context.Response.Cookies.Append(CookieName, string.Empty, new CookieOptions
        {
            HttpOnly = true,
            Secure = context.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/admin",
            MaxAge = TimeSpan.Zero,
            Expires = DateTimeOffset.UnixEpoch,
        });

    private static bool FixedTimeEquals(string? candidate, string expected)
    {
        if (candidate is null)
        {
            return false;
        }

        // Digests have one length, so the comparison's time says nothing about how much of the token was right.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }
}
