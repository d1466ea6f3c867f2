using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Forwarding;

/// <summary>Owns the single long-lived invoker to the upstream for the life of the process.</summary>
internal sealed class UpstreamHttpClient(IOptions<UpstreamOptions> options, IOptions<TracingOptions> tracing) : IDisposable
{
    public HttpMessageInvoker Invoker { get; } = UpstreamInvokerFactory.Create(options.Value, tracing.Value.PropagateToUpstream);

    public void Dispose() => Invoker.Dispose();
}
