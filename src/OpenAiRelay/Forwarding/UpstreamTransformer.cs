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

    /// <summary>
    /// Upstream response headers that never reach the client, by family (docs/threat-model.md, E10-E12): they either
    /// name the shared account, or would make the relay's own origin (or the nginx in front of it) do what the
    /// upstream says. Hop-by-hop headers are already dropped by YARP. Kept on purpose: CORS, rate-limit, request-id and
    /// processing-time headers (SDKs read them), <c>Content-Security-Policy</c> (it can only restrict).
    /// </summary>
    private static readonly string[] s_strippedResponseHeaders =
    [
        // The upstream edge's cookies, for the relay's origin.
        HeaderNames.SetCookie, "Set-Cookie2",
        // The shared account's ids.
        "openai-organization", "openai-project", "x-openai-organization", "x-openai-project",
        // Instructions to nginx: an internal redirect, a cache lifetime, a download throttle, a charset. The relay
        // sets its own X-Accel-Buffering on event streams.
        "X-Accel-Redirect", "X-Accel-Expires", "X-Accel-Limit-Rate", "X-Accel-Charset", "X-Accel-Buffering",
        // Browser policy for the relay's origin is the operator's: HSTS pinned to the relay's name, alternative
        // services (another host for this origin), network-error reports sent to the upstream's collector, wiping the
        // origin's storage (the console's session).
        HeaderNames.StrictTransportSecurity, "Alt-Svc", "NEL", "Report-To", "Reporting-Endpoints", "Clear-Site-Data",
        // The upstream's internal timings.
        "Server-Timing",
    ];

    /// <summary>The largest upstream error body the relay reads to scrub; a larger one is withheld.</summary>
    public const int MaxErrorBodyBytes = 1024 * 1024;

    private readonly string _authorization;
    private readonly SecretScrubber _scrubber;
    private readonly string? _organization;
    private readonly string? _project;
    private readonly ActiveStreams _activeStreams;

    public UpstreamTransformer(UpstreamOptions options, ActiveStreams activeStreams)
    {
        _activeStreams = activeStreams;
        _authorization = "Bearer " + options.ApiKey!.Trim();
        _scrubber = new SecretScrubber(options.ApiKey.Trim());
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
        if (proxyResponse?.StatusCode == System.Net.HttpStatusCode.SwitchingProtocols
            && httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>() is not { IsUpgradableRequest: true })
        {
            // A switch the client never asked for (a 101 to a plain POST) would hand the client a raw connection to
            // the upstream. It is the upstream's failure, answered as one.
            httpContext.Features.Get<IRequestOutcomeFeature>()?.End(RequestOutcome.UpstreamError, "unrequested_upgrade");
            await RelayErrorWriter.WriteAsync(httpContext, RelayError.UpstreamFailed);
            return false;
        }

        if (proxyResponse?.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            // The upstream rejected the server's key. Its message quotes part of that key, so it never reaches a
            // client; the client learns the relay is misconfigured instead.
            httpContext.Features.Get<IRequestOutcomeFeature>()?.End(RequestOutcome.UpstreamError, RelayError.UpstreamAuthFailed.Reason);
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

        if ((int)proxyResponse.StatusCode >= 400)
        {
            // An error may quote the server's key (a 403 "Incorrect API key provided: sk-proj-...", a 400 echoing the
            // Authorization header), whatever its status: its headers and body are scrubbed before the client sees them.
            ScrubHeaders(responseHeaders);
            await WriteScrubbedBodyAsync(httpContext, proxyResponse, cancellationToken);
            return false;
        }

        var stream = ResponseStreamKind.None;
        if (proxyResponse.StatusCode == System.Net.HttpStatusCode.SwitchingProtocols)
        {
            stream = ResponseStreamKind.WebSocket;
        }
        else if (proxyResponse.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            stream = ResponseStreamKind.EventStream;
            // Tell nginx (and any proxy honouring it) not to buffer the stream, whatever its own settings say.
            responseHeaders["X-Accel-Buffering"] = "no";
            httpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        }

        var requestId = proxyResponse.Headers.TryGetValues("x-request-id", out var requestIds) ? requestIds.FirstOrDefault() : null;
        if (requestId is not null || stream != ResponseStreamKind.None)
        {
            httpContext.Features.Set<IUpstreamResponseFeature>(new UpstreamResponse(requestId, stream));
            // Closed by RelayForwarder when the forward returns, which for a stream or a session is when it ends.
            _activeStreams.Open(stream);
        }

        return copyBody;
    }

    private void ScrubHeaders(IHeaderDictionary headers)
    {
        List<string>? tainted = null;
        foreach (var (name, values) in headers)
        {
            if (values.Any(value => value is not null && _scrubber.Contains(value)))
            {
                (tainted ??= []).Add(name);
            }
        }

        foreach (var name in tainted ?? [])
        {
            headers[name] = new Microsoft.Extensions.Primitives.StringValues(headers[name].Select(value => value is null ? null : _scrubber.Scrub(value)).ToArray());
        }
    }

    /// <summary>
    /// Reads an upstream error body (bounded, decoded when the client had accepted gzip, br or deflate), removes any
    /// piece of the key and writes it uncompressed. Latin-1 maps bytes to characters one to one, so a body without
    /// the key goes out byte for byte. A body too large or in an encoding the relay cannot read is withheld.
    /// </summary>
    private async Task WriteScrubbedBodyAsync(HttpContext context, HttpResponseMessage proxyResponse, CancellationToken cancellationToken)
    {
        var response = context.Response;
        byte[]? body;
        try
        {
            body = await ReadErrorBodyAsync(proxyResponse.Content, cancellationToken);
        }
        catch (InvalidDataException)
        {
            body = null;
        }

        if (body is null)
        {
            await RelayErrorWriter.WriteAsync(context, RelayError.UpstreamErrorWithheld(response.StatusCode));
            return;
        }

        var text = System.Text.Encoding.Latin1.GetString(body);
        var scrubbed = _scrubber.Scrub(text);
        if (!ReferenceEquals(scrubbed, text))
        {
            body = System.Text.Encoding.Latin1.GetBytes(scrubbed);
        }

        response.Headers.Remove(HeaderNames.ContentEncoding);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, cancellationToken);
    }

    private static async Task<byte[]?> ReadErrorBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var encodings = content.Headers.ContentEncoding;
        var raw = await content.ReadAsStreamAsync(cancellationToken);
        await using var decoded = encodings.Count == 0 ? raw
            : encodings.Count > 1 ? null
            : encodings.First().ToLowerInvariant() switch
            {
                "gzip" or "x-gzip" => new System.IO.Compression.GZipStream(raw, System.IO.Compression.CompressionMode.Decompress),
                "br" => new System.IO.Compression.BrotliStream(raw, System.IO.Compression.CompressionMode.Decompress),
                "deflate" => new System.IO.Compression.ZLibStream(raw, System.IO.Compression.CompressionMode.Decompress),
                "identity" => raw,
                _ => (Stream?)null,
            };
        if (decoded is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await decoded.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxErrorBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
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

    private sealed class UpstreamResponse(string? requestId, ResponseStreamKind stream) : IUpstreamResponseFeature
    {
        public string? RequestId { get; } = requestId;

        public ResponseStreamKind Stream { get; } = stream;
    }
}
