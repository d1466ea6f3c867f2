using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Pipeline;
using Yarp.ReverseProxy.Forwarder;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// The last stage: forwards the request with YARP's <see cref="IHttpForwarder"/>. Bodies stream both ways; the
/// client's <c>RequestAborted</c> cancels the upstream call; a failure before the response started becomes an
/// OpenAI-shaped 502/504, and after it a reset connection. How the call ended is reported once, as a
/// <see cref="RequestOutcome"/>, for the stages around it to settle and log.
/// </summary>
internal sealed partial class RelayForwarder
{
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _invoker;
    private readonly UpstreamTransformer _transformer;
    private readonly ILogger<RelayForwarder> _logger;
    private readonly string _destinationPrefix;
    private readonly ForwarderRequestConfig _generationConfig;
    private readonly ForwarderRequestConfig _defaultConfig;
    private readonly ActiveStreams _activeStreams;

    public RelayForwarder(
        IHttpForwarder forwarder,
        UpstreamHttpClient upstream,
        IOptions<UpstreamOptions> upstreamOptions,
        IOptions<TimeoutOptions> timeouts,
        ActiveStreams activeStreams,
        ILogger<RelayForwarder> logger)
    {
        _forwarder = forwarder;
        _invoker = upstream.Invoker;
        _activeStreams = activeStreams;
        _transformer = new UpstreamTransformer(upstreamOptions.Value, activeStreams);
        _logger = logger;
        _destinationPrefix = UpstreamEndpoint.Parse(upstreamOptions.Value.BaseUrl).DestinationPrefix;
        _generationConfig = new ForwarderRequestConfig { ActivityTimeout = timeouts.Value.GenerationIdle, AllowResponseBuffering = false };
        _defaultConfig = new ForwarderRequestConfig { ActivityTimeout = timeouts.Value.DefaultIdle, AllowResponseBuffering = false };
    }

    public async Task ForwardAsync(HttpContext context)
    {
        var config = EndpointFamilies.Classify(RelayPaths.Remainder(context.Request)) == EndpointFamily.Default ? _defaultConfig : _generationConfig;
        ForwarderError error;
        try
        {
            error = await _forwarder.SendAsync(context, _destinationPrefix, _invoker, config, _transformer);
        }
        finally
        {
            // The transformer opened it when the upstream's headers said the answer streams; it has ended now.
            if (context.Features.Get<IUpstreamResponseFeature>() is { Stream: not ResponseStreamKind.None } upstream)
            {
                _activeStreams.Close(upstream.Stream);
            }
        }

        if (error != ForwarderError.None)
        {
            await HandleErrorAsync(context, error);
        }
    }

    private async Task HandleErrorAsync(HttpContext context, ForwarderError error)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        var clientGone = context.RequestAborted.IsCancellationRequested;
        var outcome = context.Features.Get<IRequestOutcomeFeature>();
        switch (error)
        {
            // The upstream failed (refused, reset, died mid-body). YARP resets the client connection when the response
            // had started, which also trips RequestAborted: the upstream is still the cause.
            case ForwarderError.Request or ForwarderError.RequestCreation or ForwarderError.ResponseHeaders
                or ForwarderError.RequestBodyDestination or ForwarderError.ResponseBodyDestination
                or ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination:
                outcome?.End(RequestOutcome.UpstreamError, FailureReason(error, exception));
                LogUpstreamFailure(_logger, error, exception?.GetType().Name, exception?.Message);
                await WriteOrAbortAsync(context, error == ForwarderError.Request ? RelayError.UpstreamUnavailable : RelayError.UpstreamFailed);
                return;

            case ForwarderError.RequestTimedOut or ForwarderError.UpgradeActivityTimeout:
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled when !clientGone:
                // With the client still here, a cancellation can only be the idle (activity) timeout firing.
                outcome?.End(RequestOutcome.UpstreamTimeout, "idle_timeout");
                LogUpstreamFailure(_logger, error, exception?.GetType().Name, exception?.Message);
                await WriteOrAbortAsync(context, RelayError.UpstreamTimeout);
                return;

            case ForwarderError.RequestBodyClient when !clientGone:
                var refused = (exception as RelayRefusalException ?? exception?.InnerException as RelayRefusalException) switch
                {
                    { } refusal => refusal.Error,
                    _ when exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => RelayError.RequestTooLarge,
                    _ => RelayError.BadRequestBody,
                };
                outcome?.End(RequestOutcome.Rejected, refused.Reason);
                await WriteOrAbortAsync(context, refused);
                return;

            default:
                // The client left (or failed) mid-request; YARP has already cancelled the upstream call.
                outcome?.End(RequestOutcome.ClientCancelled);
                LogClientGone(_logger, error);
                return;
        }
    }

    /// <summary>The kind of upstream failure, as a closed vocabulary for metrics: a connection never made is told apart.</summary>
    private static string FailureReason(ForwarderError error, Exception? exception) => error switch
    {
        ForwarderError.Request when exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }
            => "connect_error",
        ForwarderError.Request when exception is TimeoutException || exception?.InnerException is TimeoutException => "connect_timeout",
        ForwarderError.Request or ForwarderError.ResponseHeaders => "upstream_failed",
        ForwarderError.RequestCreation => "request_creation",
        ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination => "upstream_reset",
        _ => "upstream_reset",
    };

    /// <summary>
    /// Before the response started the client gets an OpenAI-shaped error; after, the only honest signal is to reset
    /// the connection, so a truncated body is never mistaken for a complete one (YARP has already done so).
    /// </summary>
    private static Task WriteOrAbortAsync(HttpContext context, RelayError error)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        return RelayErrorWriter.WriteAsync(context, error);
    }

    [LoggerMessage(EventId = 10, EventName = "ClientGone", Level = LogLevel.Debug, Message = "Client went away ({Error}); upstream call cancelled")]
    private static partial void LogClientGone(ILogger logger, ForwarderError error);

    [LoggerMessage(EventId = 11, EventName = "UpstreamFailed", Level = LogLevel.Warning, Message = "Upstream call failed: {Error} ({ExceptionType}: {ExceptionMessage})")]
    private static partial void LogUpstreamFailure(ILogger logger, ForwarderError error, string? exceptionType, string? exceptionMessage);
}
