using FakeOpenAi.Wire;

namespace FakeOpenAi.Hosting;

/// <summary>Accepts only <c>Authorization: Bearer &lt;ApiKey&gt;</c>, like api.openai.com (WebSocket handshakes included).</summary>
internal sealed class AuthMiddleware(RequestDelegate next, FakeState state)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!state.Options.RequireAuth)
        {
            return next(context);
        }

        var header = context.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (header.Length == 0)
        {
            return OpenAiErrors.MissingApiKeyAsync(context);
        }

        var key = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : header;
        return string.Equals(key, state.Options.ApiKey, StringComparison.Ordinal)
            ? next(context)
            : OpenAiErrors.IncorrectApiKeyAsync(context, key);
    }
}
