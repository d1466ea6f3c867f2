using OpenAiRelay.Errors;

namespace OpenAiRelay.Admin;

/// <summary>The admin API's errors, in the same OpenAI envelope as the relay's.</summary>
internal static class AdminErrors
{
    public static readonly RelayError Unauthorized = new(
        StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_admin_token",
        "Incorrect or missing admin token. Send RELAY_ADMIN_TOKEN as 'Authorization: Bearer <token>'.", ShouldRetry: false);

    public static readonly RelayError KeyNotFound = new(
        StatusCodes.Status404NotFound, "invalid_request_error", "key_not_found", "No active key has this name or key id.", ShouldRetry: false);

    public static readonly RelayError StorageUnavailable = new(
        StatusCodes.Status503ServiceUnavailable, "server_error", "ledger_unavailable", "The relay's database is not answering. Retry shortly.");

    public static readonly RelayError ObjectNotFound = new(
        StatusCodes.Status404NotFound, "invalid_request_error", "object_not_found", "The relay has no record of this object; give its kind to record it.", ShouldRetry: false);

    public static RelayError Forbidden(string message) => new(StatusCodes.Status403Forbidden, "invalid_request_error", "csrf_failed", message, ShouldRetry: false);

    public static readonly RelayError UnsupportedMediaType = new(
        StatusCodes.Status415UnsupportedMediaType, "invalid_request_error", "unsupported_media_type",
        "Sign in with a JSON body: {\"token\": \"<RELAY_ADMIN_TOKEN>\"} (Content-Type: application/json).", ShouldRetry: false);

    public static RelayError BadRequest(string message) => new(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request", message, ShouldRetry: false);

    public static RelayError Conflict(string message) => new(StatusCodes.Status409Conflict, "invalid_request_error", "key_name_taken", message, ShouldRetry: false);
}
