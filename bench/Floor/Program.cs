// The floor of this design: ASP.NET Core's slim host, a constant-time bearer check and YARP's IHttpForwarder with
// the key swapped in. No ledger, no logging, no limits, no metrics. bench/wrk.sh runs it in the same rounds as the
// relay and nginx, so "relay / floor" is what everything the relay does beyond forwarding costs.
//
//   FLOOR_PORT=3101 FLOOR_UPSTREAM=http://127.0.0.1:18400 FLOOR_TOKEN=rt-... FLOOR_API_KEY=sk-... bench/Floor/bin/.../Floor
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Yarp.ReverseProxy.Forwarder;

var port = int.Parse(Environment.GetEnvironmentVariable("FLOOR_PORT") ?? "3101", System.Globalization.CultureInfo.InvariantCulture);
var upstream = Environment.GetEnvironmentVariable("FLOOR_UPSTREAM") ?? throw new InvalidOperationException("FLOOR_UPSTREAM is not set");
var expected = Encoding.ASCII.GetBytes("Bearer " + (Environment.GetEnvironmentVariable("FLOOR_TOKEN") ?? throw new InvalidOperationException("FLOOR_TOKEN is not set")));
var apiKey = "Bearer " + (Environment.GetEnvironmentVariable("FLOOR_API_KEY") ?? throw new InvalidOperationException("FLOOR_API_KEY is not set"));

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
builder.Services.AddHttpForwarder();
var app = builder.Build();

var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    ActivityHeadersPropagator = null,
});
var transformer = new KeySwap(apiKey);
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
var unauthorized = "{\"error\":{\"message\":\"Invalid token\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"u8.ToArray();

app.Run(async context =>
{
    var presented = Encoding.ASCII.GetBytes(context.Request.Headers.Authorization.ToString());
    if (!context.Request.Path.StartsWithSegments("/v1") || !CryptographicOperations.FixedTimeEquals(presented, expected))
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(unauthorized);
        return;
    }

    await forwarder.SendAsync(context, upstream, invoker, ForwarderRequestConfig.Empty, transformer);
});

app.Run();

internal sealed class KeySwap(string authorization) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        proxyRequest.Headers.Remove("Authorization");
        proxyRequest.Headers.TryAddWithoutValidation("Authorization", authorization);
    }
}
