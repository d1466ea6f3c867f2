using OpenAiRelay.Errors;

namespace OpenAiRelay.Authentication;

/// <summary>
/// The first decision about a <c>/v1</c> request: who sent it. A client address over its failed-authentication
/// allowance is refused before its token is looked at (sources are locked out, not keys); an unknown, revoked or
/// expired token is refused with 401; a key store that cannot answer refuses with 503 (fail closed). Otherwise the
/// identity goes on as <see cref="IClientFeature"/>.
/// </summary>
internal sealed partial class AuthenticationStage(RequestDelegate next, ClientAuthenticator authenticator, FailedAuthThrottle throttle, ILogger<AuthenticationStage> logger)
{
    private static readonly TimeSpan s_serviceRetryAfter = TimeSpan.FromSeconds(2);

    public async Task InvokeAsync(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(address) is { } throttled)
        {
            LogAuthThrottled(logger);
            await RelayErrorWriter.RefuseAsync(context, RelayError.AuthThrottled, throttled);
            return;
        }

        ClientIdentity? identity;
        try
        {
            identity = await AuthenticateAsync(context);
        }
        catch (System.Data.Common.DbException e)
        {
            LogKeyStoreFailed(logger, e.GetType().Name);
            await RelayErrorWriter.RefuseAsync(context, RelayError.LedgerUnavailable, s_serviceRetryAfter);
            return;
        }

        if (identity is null)
        {
            await (throttle.Failed(address) is { } wait
                ? RelayErrorWriter.RefuseAsync(context, RelayError.AuthThrottled, wait)
                : RelayErrorWriter.RefuseAsync(context, RelayError.InvalidToken));
            return;
        }

        context.Features.Set<IClientFeature>(identity);
        await next(context);
    }

    private ValueTask<ClientIdentity?> AuthenticateAsync(HttpContext context)
    {
        var token = BearerToken.TryRead(context.Request, out var sent) ? sent : default;
        return authenticator.AuthenticateAsync(token, context.RequestAborted);
    }

    [LoggerMessage(EventId = 13, EventName = "AuthThrottled", Level = LogLevel.Debug, Message = "Client address over its failed-authentication allowance; refused with 429")]
    private static partial void LogAuthThrottled(ILogger logger);

    [LoggerMessage(EventId = 12, EventName = "KeyStoreFailed", Level = LogLevel.Error, Message = "Key lookup failed ({ExceptionType}); request refused with 503")]
    private static partial void LogKeyStoreFailed(ILogger logger, string exceptionType);
}
