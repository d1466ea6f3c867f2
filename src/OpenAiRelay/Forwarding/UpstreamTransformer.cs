using Microsoft.Net.Http.Headers;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Pipeline;
using Yarp.ReverseProxy.Forwarder;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// Rewrites a client request into the upstream request: the client's path after <c>/v1</c> under the configured
/// base, the client's credentials replaced by the server's key, and nothing that could steer the destination or
/// choose the billed account. Responses come back untouched except for headers that reveal the shared account.
/// </summary>
internal sealed class UpstreamTransformer : HttpTransformer
{
    /// <summary>Client headers that never reach the upstream: credentials, account selection, destination hints.</summary>
    private static readonly string[] s_strippedRequestHeaders =
    [
        HeaderNames.Authorization, "OpenAI-Organization", "OpenAI-Project", "api-key", HeaderNames.Cookie,
        "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix",
        "X-Real-IP", "X-Original-URL", "X-Rewrite-URL", "X-Original-Host", "X-Host",
    ];

    /// <summary>Upstream headers a client must not see: cookies of the upstream's edge and the shared account's ids.</summary>
    private static readonly string[] s_strippedResponseHeaders = [HeaderNames.SetCookie, "openai-organization", "openai-project"];

    private readonly string _authorization;
    private readonly string? _organization;
    private readonly string? _project;

    public UpstreamTransformer(UpstreamOptions options)
    {
        _authorization = "Bearer " + options.ApiKey!.Trim();
        _organization = string.IsNullOrWhiteSpace(options.Organization) ? null : options.Organization.Trim();
        _project = string.IsNullOrWhiteSpace(options.Project) ? null : options.Project.Trim();
    }

    public override async ValueTask TransformRequestAsync(
        HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(
            destinationPrefix, new PathString(RelayPaths.Remainder(httpContext.Request).ToString()), httpContext.Request.QueryString);

        var headers = proxyRequest.Headers;
        foreach (var name in s_strippedRequestHeaders)
        {
            headers.Remove(name);
        }

        // The upstream host comes from the destination URI, never from the client's Host header.
        headers.Host = null;
        headers.TryAddWithoutValidation(HeaderNames.Authorization, _authorization);
        if (_organization is not null)
        {
            headers.TryAddWithoutValidation("OpenAI-Organization", _organization);
        }

        if (_project is not null)
        {
            headers.TryAddWithoutValidation("OpenAI-Project", _project);
        }

        if (headers.TryGetValues(HeaderNames.SecWebSocketProtocol, out var protocols))
        {
            RemoveTokenProtocols(headers, protocols);
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(
        HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse?.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            // The upstream rejected the server's key. Its message quotes part of that key, so it never reaches a
            // client; the client learns the relay is misconfigured instead.
            httpContext.Features.Get<IRequestOutcomeFeature>()?.End(RequestOutcome.UpstreamError);
            await RelayErrorWriter.WriteAsync(httpContext, RelayError.UpstreamAuthFailed);
            return false;
        }

        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is null)
        {
            return copyBody;
        }

        var responseHeaders = httpContext.Response.Headers;
        foreach (var name in s_strippedResponseHeaders)
        {
            responseHeaders.Remove(name);
        }

        if (proxyResponse.Headers.TryGetValues("x-request-id", out var requestIds))
        {
            httpContext.Features.Set<IUpstreamResponseFeature>(new UpstreamResponse(requestIds.FirstOrDefault()));
        }

        if (proxyResponse.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            // Tell nginx (and any proxy honouring it) not to buffer the stream, whatever its own settings say.
            responseHeaders["X-Accel-Buffering"] = "no";
            httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        }

        return copyBody;
    }

    /// <summary>
    /// Browser clients authenticate a WebSocket with a <c>openai-insecure-api-key.&lt;token&gt;</c> subprotocol. That
    /// entry carries the relay token, so it is removed; the upstream authenticates by the Authorization header instead.
    /// </summary>
    private static void RemoveTokenProtocols(System.Net.Http.Headers.HttpRequestHeaders headers, IEnumerable<string> protocols)
    {
        var kept = protocols
            .SelectMany(value => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(p => !p.StartsWith(BearerToken.WebSocketProtocolPrefix, StringComparison.Ordinal))
            .ToArray();
        headers.Remove(HeaderNames.SecWebSocketProtocol);
        if (kept.Length > 0)
        {
            headers.TryAddWithoutValidation(HeaderNames.SecWebSocketProtocol, string.Join(", ", kept));
        }
    }

    private sealed class UpstreamResponse(string? requestId) : IUpstreamResponseFeature
    {
        public string? RequestId { get; } = requestId;
    }
}
