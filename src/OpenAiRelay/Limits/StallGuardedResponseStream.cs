using OpenAiRelay.Streams;

namespace OpenAiRelay.Limits;

/// <summary>
/// The response body with a watch on writes that do not complete: Kestrel completes a write at once while its output
/// buffer has room, so only a client that stopped reading leaves one pending. The timer is created at the first such
/// write and re-armed for each one, so a response that never waits on its client costs no timer at all.
/// </summary>
internal sealed class StallGuardedResponseStream(Stream inner, HttpContext context, TimeSpan limit, TimeProvider time, StalledClientStage stage)
    : DelegatingStream(inner)
{
    // The lock orders the timer against the write: the abort runs only while a write is pending, so the request is
    // still in flight and its HttpContext has not been returned to Kestrel's pool for another request.
    private readonly Lock _lock = new();
    private ITimer? _timer;
    private bool _pending;

    // Set once the request was cut. Kestrel completes writes to an aborted connection as no-ops, so without this a
    // copy loop whose upstream reads complete from buffered data could go on draining the upstream into nothing. The
    // same holds for a connection aborted any other way (Kestrel's own limits, a reset): a write after
    // RequestAborted fails too.
    // NOTE: SlowClientTests saw the whole 100 MB leave the upstream with 200 under CPU contention although the guard's
    // own cut fails later writes; an abort that was not the guard's is the remaining path, closed here.
    private volatile bool _stalled;

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_stalled || context.RequestAborted.IsCancellationRequested)
        {
            return ValueTask.FromException(_stalled ? Stalled() : Gone());
        }

        var pending = Inner.WriteAsync(buffer, cancellationToken);
        return pending.IsCompleted ? pending : WatchAsync(pending);
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_stalled || context.RequestAborted.IsCancellationRequested)
        {
            return Task.FromException(_stalled ? Stalled() : Gone());
        }

        var pending = Inner.FlushAsync(cancellationToken);
        return pending.IsCompleted ? pending : WatchAsync(new ValueTask(pending)).AsTask();
    }

    private async ValueTask WatchAsync(ValueTask pending)
    {
        Arm();
        try
        {
            await pending;
        }
        finally
        {
            lock (_lock)
            {
                _pending = false;
                _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }

        if (_stalled)
        {
            throw Stalled();
        }
    }

    private static IOException Stalled() => new("The client stopped reading the response; the request was cut.");

    private static IOException Gone() => new("The client's connection is gone; nothing more is written to it.");

    private void Arm()
    {
        lock (_lock)
        {
            _pending = true;
        }

        if (_timer is null)
        {
            _timer = time.CreateTimer(static state => ((StallGuardedResponseStream)state!).Fire(), this, limit, Timeout.InfiniteTimeSpan);
            context.Response.RegisterForDispose(_timer);
            return;
        }

        _timer.Change(limit, Timeout.InfiniteTimeSpan);
    }

    private void Fire()
    {
        lock (_lock)
        {
            if (_pending)
            {
                _pending = false;
                _stalled = true;
                stage.OnStalled(context);
            }
        }
    }
}
