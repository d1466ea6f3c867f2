using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using OpenAiRelay.Configuration;
using OpenAiRelay.Forwarding;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Microbenchmarks;

/// <summary>
/// The request transform every relayed request goes through: YARP's default header copy plus the relay's credential
/// swap and header stripping. Measured on a fresh <see cref="DefaultHttpContext"/> and <see cref="HttpRequestMessage"/>
/// per operation, as the relay sees them (building both is part of the measured cost; see the Baseline).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class TransformBenchmarks
{
    private const string Destination = "http://127.0.0.1:8080/v1/";
    private UpstreamTransformer _transformer = null!;

    [GlobalSetup]
    public void Setup() => _transformer = new UpstreamTransformer(new UpstreamOptions { ApiKey = "sk-upstream-key", BaseUrl = "http://127.0.0.1:8080/v1" }, new ActiveStreams());

    [Benchmark(Baseline = true)]
    public HttpRequestMessage ContextOnly()
    {
        _ = CreateContext();
        return new HttpRequestMessage(HttpMethod.Post, Destination) { Version = new Version(1, 1) };
    }

    [Benchmark]
    public async ValueTask<HttpRequestMessage> TransformRequest()
    {
        var context = CreateContext();
        var message = new HttpRequestMessage(HttpMethod.Post, Destination) { Version = new Version(1, 1) };
        await _transformer.TransformRequestAsync(context, message, Destination, CancellationToken.None);
        return message;
    }

    /// <summary>A request as an official SDK sends it: credentials, content headers, Stainless telemetry headers.</summary>
    private static DefaultHttpContext CreateContext()
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = "POST";
        request.Scheme = "http";
        request.Host = new HostString("relay.example.com");
        request.Path = "/v1/chat/completions";
        request.Protocol = "HTTP/1.1";
        request.Headers.Authorization = "Bearer rt-0123456789abcdef0123456789abcdef";
        request.Headers.ContentType = "application/json";
        request.Headers.Accept = "application/json";
        request.Headers.UserAgent = "OpenAI/Python 1.99.0";
        request.Headers["X-Stainless-Lang"] = "python";
        request.Headers["X-Stainless-Package-Version"] = "1.99.0";
        request.Headers["X-Stainless-Runtime"] = "CPython";
        request.Headers["X-Stainless-Retry-Count"] = "0";
        request.Headers["OpenAI-Organization"] = "org-client-must-not-choose";
        return context;
    }
}
