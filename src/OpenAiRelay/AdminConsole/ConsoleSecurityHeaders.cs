namespace OpenAiRelay.AdminConsole;

/// <summary>
/// Headers on every <c>/admin</c> answer (pages, scripts, the JSON API, errors): a Content-Security-Policy that allows
/// only the relay's own scripts and styles (no inline script, no <c>eval</c>, no other origin to talk to), no framing,
/// no sniffing, no referrer, and no caching of anything that is not a static file. A page that a stored key or model
/// name managed to inject markup into still runs nothing (the generic dashboard XSS class, research (c.2)).
/// </summary>
internal sealed class ConsoleSecurityHeaders(RequestDelegate next)
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    public Task InvokeAsync(HttpContext context)
    {
        // When the answer starts, not now: an error writer clears the response's headers before it writes its body.
        context.Response.OnStarting(static state =>
        {
            var response = (HttpResponse)state;
            var headers = response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Cross-Origin-Resource-Policy"] = "same-origin";
            // The static files revalidate by ETag instead (ConsolePages sets no-cache); everything else holds live
            // data or secrets.
            if (headers.CacheControl.Count == 0)
            {
                headers.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        }, context.Response);
        return next(context);
    }
}
