using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Hosting;
using OpenAiRelay.Limits;
using OpenAiRelay.Metering;
using OpenAiRelay.Telemetry;
using Yarp.ReverseProxy.Forwarder;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Forwarding;

/// <summary>
/// Handles every <c>/v1/...</c> request: admits it (not draining, a valid token, a sane path), then forwards it
/// with YARP's <see cref="IHttpForwarder"/>. Bodies stream both ways; the client's <c>RequestAborted</c> cancels the
/// upstream call; a failure before the response started becomes an OpenAI-shaped 502/504.
/// </summary>
internal sealed partial class RelayForwarder
{
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _invoker;
    private readonly UpstreamTransformer _transformer;
    private readonly ClientAuthenticator _authenticator;
    private readonly IUsageLedger _ledger;
    private readonly TimeProvider _time;
    private readonly RelayLifetime _lifetime;
    private readonly ILogger<RelayForwarder> _logger;
    private readonly string _destinationPrefix;
    private readonly ForwarderRequestConfig _generationConfig;
    private readonly ForwarderRequestConfig _defaultConfig;
    private readonly LimitOptions _limits;
    private readonly FailedAuthThrottle _throttle;
    private readonly bool _meteringEnabled;

    public RelayForwarder(
        IHttpForwarder forwarder,
        UpstreamHttpClient upstream,
        ClientAuthenticator authenticator,
        IUsageLedger ledger,
        TimeProvider time,
        RelayLifetime lifetime,
        FailedAuthThrottle throttle,
        IOptions<RelayOptions> options,
        ILogger<RelayForwarder> logger)
    {
        var relay = options.Value;
        _forwarder = forwarder;
        _invoker = upstream.Invoker;
        _transformer = new UpstreamTransformer(relay.Upstream);
        _authenticator = authenticator;
        _ledger = ledger;
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
        _destinationPrefix = UpstreamEndpoint.Parse(relay.Upstream.BaseUrl).DestinationPrefix;
        _generationConfig = new ForwarderRequestConfig { ActivityTimeout = relay.Timeouts.GenerationIdle, AllowResponseBuffering = false };
        _defaultConfig = new ForwarderRequestConfig { ActivityTimeout = relay.Timeouts.DefaultIdle, AllowResponseBuffering = false };
        _limits = relay.Limits;
        _throttle = throttle;
        _meteringEnabled = relay.Metering.Enabled;
    }

    public async Task ForwardAsync(HttpContext context)
    {
        var state = context.Features.Get<RelayRequestState>()!;
        if (await AdmitAsync(context, state) is { } rejection)
        {
            state.Outcome = RequestOutcome.Rejected;
            await RelayErrorWriter.WriteAsync(context, rejection.Error, rejection.RetryAfter);
            return;
        }

        var remainder = context.Request.Path.Value.AsSpan(UpstreamEndpoint.ClientApiPrefix.Length);
        var family = EndpointFamilies.Classify(remainder);
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = family == EndpointFamily.Files
                ? _limits.FilesMaxRequestBodySize
                : _limits.DefaultMaxRequestBodySize;
        }

        if (context.Request.ContentLength > sizeFeature?.MaxRequestBodySize)
        {
            state.Outcome = RequestOutcome.Rejected;
            await RelayErrorWriter.WriteAsync(context, RelayError.RequestTooLarge);
            return;
        }

        if (_meteringEnabled && await AdmitMeteredAsync(context, state, remainder.ToString()) is false)
        {
            return;
        }

        var config = family == EndpointFamily.Default ? _defaultConfig : _generationConfig;
        var error = await _forwarder.SendAsync(context, _destinationPrefix, _invoker, config, _transformer);
        if (error != ForwarderError.None)
        {
            await HandleErrorAsync(context, state, error);
        }
    }

    /// <summary>Inspects the body, opens the ledger row and arms the WebSocket meter; false when the request ended here.</summary>
    private async Task<bool> AdmitMeteredAsync(HttpContext context, RelayRequestState state, string endpoint)
    {
        var method = context.Request.Method;
        var meter = new RequestMeter(MeteredEndpoints.LedgerName(method, endpoint), MeteredEndpoints.ExpectsUsage(method, endpoint))
        {
            ReadsStoredResponse = MeteredEndpoints.IsStoredResponseRead(method, endpoint),
        };
        state.Meter = meter;
        byte[]? body;
        try
        {
            body = await RequestBodyInspector.InspectAsync(context, meter);
        }
        catch (BadHttpRequestException e)
        {
            state.Meter = null;
            state.Outcome = RequestOutcome.Rejected;
            await RelayErrorWriter.WriteAsync(context, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? RelayError.RequestTooLarge : RelayError.BadRequestBody);
            return false;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client left while sending its body: nothing was forwarded.
            state.Meter = null;
            state.Outcome = RequestOutcome.ClientCancelled;
            return false;
        }

        if (meter.ExpectsUsage && body is not null)
        {
            meter.PromptEstimate = TokenEstimator.EstimatePromptTokens(body, meter.RequestedModel);
        }

        // The in-flight row goes in before the upstream sees anything: a crash from here on is reconciled at the next start.
        state.StartedAt = _time.GetUtcNow();
        _ledger.Open(UsageSettlement.Opening(context, state, meter, state.StartedAt));
        state.LedgerOpen = true;

        if (meter.ExpectsUsage && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            // Metered WebSockets are relayed uncompressed, so the relay can read the usage in response.done frames.
            context.Request.Headers.Remove("Sec-WebSocket-Extensions");
            context.Features.Set<IHttpUpgradeFeature>(new MeteredUpgradeFeature(upgrade, new WebSocketUsageMeter(meter)));
        }

        return true;
    }

    private async ValueTask<Rejection?> AdmitAsync(HttpContext context, RelayRequestState state)
    {
        if (_lifetime.IsDraining)
        {
            return new Rejection(RelayError.Draining, s_serviceRetryAfter);
        }

        // Fail closed: a request the ledger cannot record is not forwarded.
        if (!_ledger.IsHealthy)
        {
            return new Rejection(RelayError.LedgerUnavailable, s_serviceRetryAfter);
        }

        // A throttled address is refused before its token is looked at: sources are locked out, not keys.
        var client = context.Connection.RemoteIpAddress;
        if (_throttle.RetryAfter(client) is { } throttled)
        {
            LogAuthThrottled(_logger);
            return new Rejection(RelayError.AuthThrottled, throttled);
        }

        ClientIdentity? identity;
        try
        {
            identity = await AuthenticateAsync(context);
        }
        catch (System.Data.Common.DbException e)
        {
            LogKeyStoreFailed(_logger, e.GetType().Name);
            return new Rejection(RelayError.LedgerUnavailable, s_serviceRetryAfter);
        }

        if (identity is null)
        {
            return _throttle.Failed(client) is { } wait
                ? new Rejection(RelayError.AuthThrottled, wait)
                : new Rejection(RelayError.InvalidToken, null);
        }

        state.Client = identity;
        return null;
    }

    private ValueTask<ClientIdentity?> AuthenticateAsync(HttpContext context)
    {
        var token = BearerToken.TryRead(context.Request, out var sent) ? sent : default;
        return _authenticator.AuthenticateAsync(token, context.RequestAborted);
    }

    private async Task HandleErrorAsync(HttpContext context, RelayRequestState state, ForwarderError error)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        var clientGone = context.RequestAborted.IsCancellationRequested;
        switch (error)
        {
            // The upstream failed (refused, reset, died mid-body). YARP resets the client connection when the response
            // had started, which also trips RequestAborted: the upstream is still the cause.
            case ForwarderError.Request or ForwarderError.RequestCreation or ForwarderError.ResponseHeaders
                or ForwarderError.RequestBodyDestination or ForwarderError.ResponseBodyDestination
                or ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination:
                state.Outcome = RequestOutcome.UpstreamError;
                LogUpstreamFailure(_logger, error, exception?.GetType().Name, exception?.Message);
                await WriteOrAbortAsync(context, error == ForwarderError.Request ? RelayError.UpstreamUnavailable : RelayError.UpstreamFailed);
                return;

            case ForwarderError.RequestTimedOut or ForwarderError.UpgradeActivityTimeout:
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
                or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled when !clientGone:
                // With the client still here, a cancellation can only be the idle (activity) timeout firing.
                state.Outcome = RequestOutcome.UpstreamTimeout;
                LogUpstreamFailure(_logger, error, exception?.GetType().Name, exception?.Message);
                await WriteOrAbortAsync(context, RelayError.UpstreamTimeout);
                return;

            case ForwarderError.RequestBodyClient when !clientGone:
                state.Outcome = RequestOutcome.Rejected;
                await WriteOrAbortAsync(
                    context,
                    exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }
                        ? RelayError.RequestTooLarge
                        : RelayError.BadRequestBody);
                return;

            default:
                // The client left (or failed) mid-request; YARP has already cancelled the upstream call.
                state.Outcome = RequestOutcome.ClientCancelled;
                LogClientGone(_logger, error);
                return;
        }
    }

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

    private static readonly TimeSpan s_serviceRetryAfter = TimeSpan.FromSeconds(2);

    private readonly record struct Rejection(RelayError Error, TimeSpan? RetryAfter);

    [LoggerMessage(EventId = 13, EventName = "AuthThrottled", Level = LogLevel.Debug, Message = "Client address over its failed-authentication allowance; refused with 429")]
    private static partial void LogAuthThrottled(ILogger logger);

    [LoggerMessage(EventId = 12, EventName = "KeyStoreFailed", Level = LogLevel.Error, Message = "Key lookup failed ({ExceptionType}); request refused with 503")]
    private static partial void LogKeyStoreFailed(ILogger logger, string exceptionType);

    [LoggerMessage(EventId = 10, EventName = "ClientGone", Level = LogLevel.Debug, Message = "Client went away ({Error}); upstream call cancelled")]
    private static partial void LogClientGone(ILogger logger, ForwarderError error);

    [LoggerMessage(EventId = 11, EventName = "UpstreamFailed", Level = LogLevel.Warning, Message = "Upstream call failed: {Error} ({ExceptionType}: {ExceptionMessage})")]
    private static partial void LogUpstreamFailure(ILogger logger, ForwarderError error, string? exceptionType, string? exceptionMessage);
}
