namespace OpenAiRelay.Errors;

/// <summary>
/// An error the relay itself answers with, in OpenAI's envelope <c>{"error":{"message","type","param","code"}}</c>
/// so that every SDK maps it to the right exception. Messages never contain secrets or upstream URLs.
/// </summary>
internal sealed record RelayError(int StatusCode, string Type, string Code, string Message, bool? ShouldRetry = null)
{
    public static readonly RelayError InvalidToken = new(
        StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key",
        "Incorrect or missing relay token. Send the token the relay operator gave you as 'Authorization: Bearer <token>'.",
        ShouldRetry: false);

    public static readonly RelayError AuthThrottled = new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        "Too many failed authentication attempts from this address. Retry after the time in the Retry-After header.");

    public static readonly RelayError BadRequestTarget = new(
        StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
        "The request path contains an encoded slash, backslash, NUL or dot segment, which the relay does not forward.",
        ShouldRetry: false);

    public static readonly RelayError MethodNotAllowed = new(
        StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed",
        "The relay does not forward TRACE, TRACK or CONNECT requests.",
        ShouldRetry: false);

    public static readonly RelayError NotFound = new(
        StatusCodes.Status404NotFound, "invalid_request_error", "not_found",
        "Unknown path. The relay serves the OpenAI API under /v1/ (set your SDK's base URL to https://<relay>/v1).",
        ShouldRetry: false);

    public static readonly RelayError UpstreamUnavailable = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_unavailable",
        "The relay could not reach the upstream API. Try again later.");

    public static readonly RelayError UpstreamFailed = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_error",
        "The upstream API failed while answering this request.");

    /// <summary>An upstream error whose body the relay could not check for its key (too large, or an unknown encoding).</summary>
    public static RelayError UpstreamErrorWithheld(int status) => new(
        status, "server_error", "upstream_error",
        "The upstream API answered with an error whose body the relay could not check for secrets, so it is withheld.");

    public static readonly RelayError UpstreamAuthFailed = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_auth_failed",
        "The upstream API rejected the relay's own credentials. The relay operator must check OPENAI_API_KEY.",
        ShouldRetry: false);

    public static readonly RelayError UpstreamTimeout = new(
        StatusCodes.Status504GatewayTimeout, "server_error", "upstream_timeout",
        "The upstream API sent nothing within the relay's idle timeout.");

    public static readonly RelayError RequestTooLarge = new(
        StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "request_too_large",
        "The request body is larger than the relay accepts for this endpoint.",
        ShouldRetry: false);

    public static readonly RelayError BadRequestBody = new(
        StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
        "The request body could not be read.",
        ShouldRetry: false);

    public static readonly RelayError LedgerUnavailable = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "ledger_unavailable",
        "The relay cannot record usage right now, so it does not forward requests. Retry shortly.");

    public static readonly RelayError Draining = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "service_unavailable",
        "The relay is shutting down. Retry shortly.");

    public static RelayError EndpointNotAllowed(string client) => new(
        StatusCodes.Status403Forbidden, "invalid_request_error", "endpoint_not_allowed",
        $"The key '{client}' may not call this endpoint. The relay operator sets which endpoints a key may use.",
        ShouldRetry: false);

    public static RelayError RequestRateLimited(string client, int limit) => new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        $"Rate limit reached for key '{client}' on requests per min (RPM): Limit {limit}. Retry after the time in the Retry-After header.");

    public static RelayError ConcurrencyLimited(string client, int limit) => new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        $"Too many concurrent requests for key '{client}': limit {limit}. Retry when one of them has finished.");
}
