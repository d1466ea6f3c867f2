using OpenAiRelay.Policy;

namespace OpenAiRelay.Configuration;

/// <summary>
/// Request limits (<c>Relay:Limits</c>): body sizes per endpoint family and failed-authentication throttling.
/// docs/limits.md lists every limit the relay sets, these and Kestrel's, in one table.
/// </summary>
internal sealed class LimitOptions
{
    public const string Section = "Relay:Limits";

    /// <summary>JSON endpoints (chat with base64 images, responses, embeddings) and audio uploads. Bodies are streamed, so a limit costs no memory.</summary>
    public long DefaultMaxRequestBodySize { get; set; } = 64L * 1024 * 1024;

    /// <summary><c>/v1/files</c> and <c>/v1/uploads</c>: OpenAI accepts files up to 512 MB.</summary>
    public long FilesMaxRequestBodySize { get; set; } = 512L * 1024 * 1024;

    /// <summary>
    /// Failed authentications a client address may make per minute; beyond that the address gets 429 (valid token or
    /// not) until the minute is over. 0 turns throttling off. security.md: "lock out sources, not keys".
    /// </summary>
    public int FailedAuthPerMinute { get; set; } = 20;

    /// <summary>
    /// Output tokens reserved (per choice) against a key's <c>tpm</c> and budget for a generation that sets no output
    /// cap, until the real usage settles it. A response longer than this is the only way a budget can be overshot
    /// (by that response's excess); a key with <c>budget_mode: strict</c> refuses such requests instead.
    /// </summary>
    public int DefaultOutputReservationTokens { get; set; } = 4096;

    /// <summary>
    /// USD reserved against a key's budget for a generation whose cost cannot be computed at admission: a multipart
    /// form (transcription, image edit), whose model is read only as the body streams, and a WebSocket session.
    /// </summary>
    public decimal UnknownCostReservationUsd { get; set; } = 0.25m;

    /// <summary>
    /// <c>Relay:Limits:Default</c> (<c>Rpm</c>, <c>Tpm</c>, <c>MaxConcurrent</c>, <c>BudgetUsd</c>, <c>BudgetPeriod</c>,
    /// <c>BudgetMode</c>, <c>Models</c>, <c>Endpoints</c>): the policy of keys that set none
    /// and of the shared <c>RELAY_TOKEN</c> tokens. Read by <see cref="RelayConfiguration"/>, not by the binder, so a
    /// comma-separated <c>Endpoints</c> works and an unknown field is an error rather than no limit.
    /// </summary>
    public KeyPolicy DefaultPolicy { get; set; } = KeyPolicy.Unlimited;

    /// <summary>Why <see cref="DefaultPolicy"/> could not be read, for the validator to report; null when it could.</summary>
    public string? DefaultPolicyError { get; set; }
}
