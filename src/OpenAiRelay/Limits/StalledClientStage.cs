using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Limits;

/// <summary>
/// Closes the connection of a client that stops reading its response: a write to it that stays pending for
/// <see cref="TimeoutOptions.StalledClient"/> aborts the request, so YARP cancels the upstream call and the ledger
/// row settles as a client cancellation.
/// </summary>
/// <remarks>
/// Kestrel's minimum response rate cannot do this: it credits every byte the kernel accepted at 240 B/s, and the
/// socket buffers take megabytes at once, so a reader at 100 B/s is judged to be hours ahead. A pending write is the
/// one signal that the client, not the upstream, is what holds the response up (nginx's <c>send_timeout</c> is the
/// same rule). Upgraded connections are left alone: a WebSocket's frames are not written through this body.
/// </remarks>
internal sealed partial class StalledClientStage(RequestDelegate next, IOptions<TimeoutOptions> options, TimeProvider time, ILogger<StalledClientStage> logger)
{
    private readonly TimeSpan _limit = options.Value.StalledClient;

    public Task InvokeAsync(HttpContext context)
    {
        if (_limit > TimeSpan.Zero && context.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true })
        {
            context.Response.Body = new StallGuardedResponseStream(context.Response.Body, context, _limit, time, this);
        }

        return next(context);
    }

    internal void OnStalled(HttpContext context)
    {
        LogStalled(logger, _limit.TotalSeconds, context.Connection.Id);
        context.Abort();
    }

    [LoggerMessage(EventId = 20, EventName = "ClientStalled", Level = LogLevel.Information,
        Message = "The client read nothing of its response for {Seconds} s; connection {ConnectionId} closed and the upstream call cancelled")]
    private static partial void LogStalled(ILogger logger, double seconds, string connectionId);
}
