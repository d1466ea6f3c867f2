using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Hosting;

/// <summary>
/// Readiness. On SIGTERM the relay starts draining: <c>/readyz</c> fails so a balancer stops sending traffic, new
/// requests get 503 with <c>Retry-After</c>, and requests already in flight run on until the shutdown timeout.
/// </summary>
/// <remarks>
/// With <see cref="RelayOptions.DrainDelay"/> the listener stays open that long after SIGTERM before Kestrel stops
/// accepting: a balancer that polls <c>/readyz</c> sees it fail and moves traffic away while the relay still answers,
/// instead of meeting refused connections. Stopping hooks run before any hosted service stops, so the web server is
/// still listening while this waits; the wait is part of <see cref="HostOptions.ShutdownTimeout"/>.
/// </remarks>
internal sealed class RelayLifetime : IHostedLifecycleService
{
    private readonly TimeSpan _drainDelay;
    private readonly TimeProvider _time;
    private volatile bool _draining;

    public RelayLifetime(IHostApplicationLifetime lifetime, IOptions<RelayOptions> options, TimeProvider time)
    {
        _drainDelay = options.Value.DrainDelay;
        _time = time;
        lifetime.ApplicationStopping.Register(() => _draining = true);
    }

    public bool IsDraining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        if (_drainDelay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(_drainDelay, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The shutdown timeout is shorter than the drain delay: stop now.
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
