namespace OpenAiRelay.Errors;

/// <summary>
/// An error the relay itself answers with, in OpenAI's envelope <c>{"error":{"message","type","param","code"}}</c>
/// so that every SDK maps it to the right exception. Messages never contain secrets or upstream URLs.
/// </summary>
internal sealed record RelayError(int StatusCode, string Type, string Code, string Message, bool? ShouldRetry = null)
{
    /// <summary>
    /// Why the relay refused, from a closed vocabulary (<c>auth</c>, <c>rpm</c>, <c>budget</c>, <c>isolation</c>, ...):
    /// the <c>relay.refusals</c> metric's label and the span's <c>error.type</c>. Several refusals share an OpenAI
    /// <see cref="Code"/> (<c>rate_limit_exceeded</c> is rpm, tpm and concurrency); the reason tells them apart.
    /// </summary>
    public string Reason { get; init; } = Code;

    public static readonly RelayError InvalidToken = new(
        StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key",
        "Incorrect or missing relay token. Send the token the relay operator gave you as 'Authorization: Bearer <token>'.",
        ShouldRetry: false)
    { Reason = "auth" };

    public static readonly RelayError AuthThrottled = new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        "Too many failed authentication attempts from this address. Retry after the time in the Retry-After header.")
    { Reason = "auth_throttled" };

    public static readonly RelayError BadRequestTarget = new(
        StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
        "The request path contains an encoded slash, backslash, NUL or dot segment, which the relay does not forward.",
        ShouldRetry: false)
    { Reason = "bad_target" };

    public static readonly RelayError MethodNotAllowed = new(
        StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed",
        "The relay does not forward TRACE, TRACK or CONNECT requests.",
        ShouldRetry: false)
    { Reason = "bad_target" };

    public static readonly RelayError NotFound = new(
        StatusCodes.Status404NotFound, "invalid_request_error", "not_found",
        "Unknown path. The relay serves the OpenAI API under /v1/ (set your SDK's base URL to https://<relay>/v1).",
        ShouldRetry: false)
    { Reason = "not_found" };

    public static readonly RelayError UpstreamUnavailable = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_unavailable",
        "The relay could not reach the upstream API. Try again later.")
    { Reason = "upstream_unavailable" };

    public static readonly RelayError UpstreamFailed = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_error",
        "The upstream API failed while answering this request.")
    { Reason = "upstream_error" };

    /// <summary>An upstream error whose body the relay could not check for its key (too large, or an unknown encoding).</summary>
    public static RelayError UpstreamErrorWithheld(int status) => new(
        status, "server_error", "upstream_error",
        "The upstream API answered with an error whose body the relay could not check for secrets, so it is withheld.")
    { Reason = "upstream_error" };

    public static readonly RelayError UpstreamAuthFailed = new(
        StatusCodes.Status502BadGateway, "server_error", "upstream_auth_failed",
        "The upstream API rejected the relay's own credentials. The relay operator must check OPENAI_API_KEY.",
        ShouldRetry: false)
    { Reason = "upstream_auth" };

    public static readonly RelayError UpstreamTimeout = new(
        StatusCodes.Status504GatewayTimeout, "server_error", "upstream_timeout",
        "The upstream API sent nothing within the relay's idle timeout.")
    { Reason = "upstream_timeout" };

    public static readonly RelayError RequestTooLarge = new(
        StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "request_too_large",
        "The request body is larger than the relay accepts for this endpoint.",
        ShouldRetry: false)
    { Reason = "too_large" };

    public static readonly RelayError BadRequestBody = new(
        StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request",
        "The request body could not be read.",
        ShouldRetry: false)
    { Reason = "bad_body" };

    public static readonly RelayError LedgerUnavailable = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "ledger_unavailable",
        "The relay cannot record usage right now, so it does not forward requests. Retry shortly.")
    { Reason = "ledger_unavailable" };

    public static readonly RelayError Draining = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "service_unavailable",
        "The relay is shutting down. Retry shortly.")
    { Reason = "draining" };

    public static RelayError EndpointNotAllowed(string client) => new(
        StatusCodes.Status403Forbidden, "invalid_request_error", "endpoint_not_allowed",
        $"The key '{client}' may not call this endpoint. The relay operator sets which endpoints a key may use.",
        ShouldRetry: false)
    { Reason = "endpoint" };

    public static RelayError RequestRateLimited(string client, int limit) => new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        $"Rate limit reached for key '{client}' on requests per min (RPM): Limit {limit}. Retry after the time in the Retry-After header.")
    { Reason = "rpm" };

    public static RelayError ConcurrencyLimited(string client, int limit) => new(
        StatusCodes.Status429TooManyRequests, "requests", "rate_limit_exceeded",
        $"Too many concurrent requests for key '{client}': limit {limit}. Retry when one of them has finished.")
    { Reason = "concurrency" };
    public static RelayError TokensRateLimited(string client, int limit, long requested) => new(
        StatusCodes.Status429TooManyRequests, "tokens", "rate_limit_exceeded",
        $"Rate limit reached for key '{client}' on tokens per min (TPM): Limit {limit}, Requested {requested}. Retry after the time in the Retry-After header.")
    { Reason = "tpm" };

    public static RelayError TokensTooMany(string client, int limit, long requested) => new(
        StatusCodes.Status429TooManyRequests, "tokens", "rate_limit_exceeded",
        $"Request too large for key '{client}' on tokens per min (TPM): Limit {limit}, Requested {requested}. " +
        "The input or output tokens must be reduced (set a smaller max_tokens / max_output_tokens) in order to run successfully.",
        ShouldRetry: false)
    { Reason = "tpm_too_large" };

    public static RelayError BudgetExhausted(string client, string period, DateTimeOffset? resetsAt) => new(
        StatusCodes.Status429TooManyRequests, "insufficient_quota", "insufficient_quota",
        $"The key '{client}' has used {(period == "total" ? "its total budget" : $"its budget for this {period}")}, or the request's reserved cost does not fit in what remains" +
        (resetsAt is { } reset ? $"; the budget resets at {reset.UtcDateTime:yyyy-MM-dd HH:mm} UTC. " : ". ") +
        "The relay operator sets the budget.",
        ShouldRetry: false)
    { Reason = "budget" };

    /// <summary>
    /// An object this key did not create through the relay, answered as OpenAI answers an id that does not exist: the
    /// key learns nothing of whether it exists for someone else.
    /// </summary>
    public static RelayError NoSuchObject(string message, string code = "not_found") => new(
        StatusCodes.Status404NotFound, "invalid_request_error", code, message, ShouldRetry: false)
    { Reason = "isolation" };

    /// <summary>The relay could not record who owns an object it just created (the database does not answer).</summary>
    public static readonly RelayError OwnershipUnavailable = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "ownership_unavailable",
        "The relay cannot check or record which key owns the objects this request names right now. Try again shortly.")
    { Reason = "ownership_unavailable" };

    public static RelayError ModelNotAllowed(string client, string? model) => new(
        StatusCodes.Status403Forbidden, "invalid_request_error", "model_not_allowed",
        model is { Length: > 0 }
            ? $"The key '{client}' may not use the model '{model}'. The relay operator sets which models a key may use."
            : $"The key '{client}' may only call generations that name an allowed model.",
        ShouldRetry: false)
    { Reason = "model" };

    public static RelayError ModelNotPriced(string client, string? model) => new(
        StatusCodes.Status403Forbidden, "invalid_request_error", "model_not_allowed",
        model is { Length: > 0 }
            ? $"The key '{client}' has a budget, and the model '{model}' has no price in the relay's price table, so its cost cannot be held to the budget."
            : $"The key '{client}' has a budget, so its generations must name a model with a known price.",
        ShouldRetry: false)
    { Reason = "model_not_priced" };

    public static RelayError OutputCapRequired(string client) => new(
        StatusCodes.Status400BadRequest, "invalid_request_error", "output_cap_required",
        $"The key '{client}' has a strict budget: a generation must set its output cap (max_tokens, max_completion_tokens or max_output_tokens), " +
        "so its worst-case cost is known before it runs. Forms and WebSocket sessions, whose cost cannot be known in advance, are refused.",
        ShouldRetry: false)
    { Reason = "output_cap" };

    public static readonly RelayError LimitsUnavailable = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "limits_unavailable",
        "The relay cannot check this key's limits right now (its spend could not be read), so it does not forward the request. Retry shortly.")
    { Reason = "limits_unavailable" };

    public static readonly RelayError LimitsNeedMetering = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "limits_unavailable",
        "This key has a budget, token or model limit, which needs metering, and metering is turned off on this relay (Relay:Metering:Enabled).",
        ShouldRetry: false)
    { Reason = "limits_need_metering" };
}
