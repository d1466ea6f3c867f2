namespace OpenAiRelay.Hosting;

/// <summary>
/// Readiness. On SIGTERM the relay starts draining: <c>/readyz</c> fails so a balancer stops sending traffic,
/// new requests get 503 with <c>Retry-After</c>, and requests already in flight run on until the shutdown timeout.
/// </summary>
internal sealed class RelayLifetime
{
    private volatile bool _draining;

    public RelayLifetime(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStopping.Register(() => _draining = true);
    }

    public bool IsDraining => _draining;
}
