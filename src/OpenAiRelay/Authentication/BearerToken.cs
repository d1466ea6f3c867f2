using Microsoft.Net.Http.Headers;

namespace OpenAiRelay.Authentication;

/// <summary>Extracts the client's credential from a request without allocating on the common path.</summary>
internal static class BearerToken
{
    /// <summary>Browsers cannot set headers on a WebSocket, so OpenAI's SDKs put the key in a subprotocol.</summary>
    public const string WebSocketProtocolPrefix = "openai-insecure-api-key.";

    /// <summary>Longer values are rejected before any hashing: no real token is this long.</summary>
    public const int MaxLength = 512;

    public static bool TryRead(HttpRequest request, out ReadOnlySpan<char> token)
    {
        var authorization = request.Headers.Authorization;
        if (authorization.Count == 1)
        {
            return TryParseAuthorization(authorization[0], out token);
        }

        if (authorization.Count == 0 && TryReadFromWebSocketProtocol(request.Headers[HeaderNames.SecWebSocketProtocol], out var fromProtocol))
        {
            token = fromProtocol;
            return true;
        }

        token = default;
        return false;
    }

    /// <summary>
    /// Accepts exactly <c>Bearer &lt;token&gt;</c>, the scheme case-insensitively, one space, and a token of visible ASCII.
    /// </summary>
    public static bool TryParseAuthorization(string? value, out ReadOnlySpan<char> token)
    {
        token = default;
        const string Scheme = "Bearer ";
        if (value is null || value.Length <= Scheme.Length || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var candidate = value.AsSpan(Scheme.Length);
        if (!IsWellFormed(candidate))
        {
            return false;
        }

        token = candidate;
        return true;
    }

    public static bool TryReadFromWebSocketProtocol(Microsoft.Extensions.Primitives.StringValues protocols, out ReadOnlySpan<char> token)
    {
        token = default;
        foreach (var header in protocols)
        {
            if (header is null)
            {
                continue;
            }

            foreach (var range in header.AsSpan().Split(','))
            {
                var entry = header.AsSpan()[range].Trim();
                if (entry.StartsWith(WebSocketProtocolPrefix, StringComparison.Ordinal))
                {
                    var candidate = entry[WebSocketProtocolPrefix.Length..];
                    if (!IsWellFormed(candidate))
                    {
                        return false;
                    }

                    token = candidate;
                    return true;
                }
            }
        }

        return false;
    }

    private static bool IsWellFormed(ReadOnlySpan<char> candidate)
    {
        if (candidate.IsEmpty || candidate.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in candidate)
        {
            if (c is <= ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
