namespace FakeOpenAi.Hosting;

/// <summary>
/// Replaces the default ConsoleLifetime: a fake started inside a test process must not hook Ctrl+C or SIGTERM
/// (every instance would register handlers). Exe mode handles signals in <see cref="Program"/> instead.
/// </summary>
internal sealed class NullHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
