using System.Diagnostics;
using System.Net;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// The one long-lived <see cref="HttpMessageInvoker"/> to the upstream, set up as YARP recommends for a proxy:
/// no system proxy, no redirects (a redirect must never carry the key elsewhere), no decompression (bytes pass
/// through untouched), no cookies.
/// </summary>
internal static class UpstreamInvokerFactory
{
    /// <param name="propagateTrace">
    /// Whether the upstream call carries the relay span's W3C <c>traceparent</c> (<see cref="UpstreamTracePropagator"/>),
    /// replacing the trace headers the client sent, so the upstream sees one context, the relay's. Off: no propagator,
    /// and the client's own trace headers, like its other headers, pass as they came.
    /// </param>
    public static HttpMessageInvoker Create(UpstreamOptions options, bool propagateTrace = false) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = options.ConnectTimeout,
        // Below the ~60-90 s after which upstream load balancers drop idle connections, so a pooled connection is
        // retired before the far side closes it under a request (the idle-reuse race in security.md).
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        EnableMultipleHttp2Connections = true,
        ActivityHeadersPropagator = propagateTrace ? new UpstreamTracePropagator() : null,
        MaxResponseHeadersLength = 64,
    }, disposeHandler: true);
}
