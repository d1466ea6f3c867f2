using FakeOpenAi.Hosting;

namespace FakeOpenAi.Wire;

/// <summary>
/// Paces a response event by event and applies the streaming faults: the gap between events, a stall after N
/// events, a deliberate reset after N events. Every wait observes RequestAborted, so a client that leaves ends the
/// fake's work at once (and the recorder can tell).
/// </summary>
internal sealed class StreamPacer(HttpContext context, FakeRequestFeature feature, TimeProvider time, TimeSpan interval)
{
    // NOTE: Abort() may drop bytes that were flushed to Kestrel's transport but not yet to the socket. A short
    // pause before resetting lets the N promised events actually reach the client.
    private static readonly TimeSpan ResetGrace = TimeSpan.FromMilliseconds(50);

    private int _sent;

    /// <summary>Events sent so far.</summary>
    public int Sent => _sent;

    /// <param name="paced">False for an event the real API sends right after the previous one (chat's usage chunk).</param>
    public async ValueTask BeforeEventAsync(bool paced = true)
    {
        var aborted = context.RequestAborted;
        aborted.ThrowIfCancellationRequested();
        if (paced && _sent > 0 && interval > TimeSpan.Zero)
        {
            await Task.Delay(interval, time, aborted);
        }

        var plan = feature.Plan;
        if (plan.StallAfterEvents == _sent)
        {
            await HangAsync();
        }

        if (plan.ResetAfterEvents == _sent)
        {
            await ResetAsync();
        }

        _sent++;
    }

    /// <summary>For a response sent in one piece (JSON): a stall or reset fault applies before the headers.</summary>
    public async Task BeforeWholeBodyAsync()
    {
        var plan = feature.Plan;
        if (plan.StallAfterEvents is not null)
        {
            await HangAsync();
        }

        if (plan.ResetAfterEvents is not null)
        {
            await ResetAsync();
        }
    }

    private Task HangAsync() => Task.Delay(Timeout.InfiniteTimeSpan, time, context.RequestAborted);

    private async Task ResetAsync()
    {
        if (context.Response.HasStarted)
        {
            await Task.Delay(ResetGrace, time, context.RequestAborted);
        }

        feature.ResetByFake = true;
        context.Abort();
        throw new OperationCanceledException("The fake reset the connection (x-fake-reset-after).");
    }
}
