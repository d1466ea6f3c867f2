namespace OpenAiRelay.Storage;

/// <summary>
/// One row of the usage ledger: one per admitted request, keyed on the relay's own request id. Written first as
/// <see cref="UsageOutcome.InFlight"/> (<c>IUsageLedger.Open</c>) and then settled once
/// (<c>IUsageLedger.Settle</c>). Token counts are exact unless <see cref="Estimated"/>; money is integer
/// micro-dollars, and <see cref="CostMicros"/> is null when the model has no known price (never a guess).
/// </summary>
internal sealed record UsageRecord
{
    public required string RequestId { get; init; }

    /// <summary>The database key id, or for shared <c>RELAY_TOKEN</c> tokens their label (<c>relay-token</c>).</summary>
    public required string KeyId { get; init; }

    /// <summary>Safe to show: <c>rk_live_&lt;keyid&gt;</c>, <c>relay-token</c> or <c>anonymous</c>.</summary>
    public required string KeyLabel { get; init; }

    public string? Model { get; init; }

    /// <summary>The path below <c>/v1</c>, without the query, for example <c>/chat/completions</c>.</summary>
    public required string Endpoint { get; init; }

    public required string Method { get; init; }

    public int Status { get; init; }

    /// <summary>All prompt tokens, cached ones included (OpenAI's <c>prompt_tokens</c> / <c>input_tokens</c>).</summary>
    public long InputTokens { get; init; }

    /// <summary>The part of <see cref="InputTokens"/> served from the prompt cache.</summary>
    public long CachedTokens { get; init; }

    /// <summary>All completion tokens, reasoning ones included (as OpenAI reports them).</summary>
    public long OutputTokens { get; init; }

    /// <summary>The part of <see cref="OutputTokens"/> spent reasoning.</summary>
    public long ReasoningTokens { get; init; }

    public bool Estimated { get; init; }

    public long? CostMicros { get; init; }

    public long LatencyMs { get; init; }

    public long? TtfbMs { get; init; }

    public long BytesIn { get; init; }

    public long BytesOut { get; init; }

    public string? UpstreamRequestId { get; init; }

    public UsageOutcome Outcome { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The prompt estimate made at admission; settles a row whose process crashed before it could.</summary>
    public long EstimatedInputTokens { get; init; }

    /// <summary>Milliseconds of duration-billed audio (<c>usage.type: "duration"</c>, whisper-1); 0 for token-billed requests.</summary>
    public long AudioMs { get; init; }

    /// <summary>The upstream's response id of a background generation; set on <see cref="UsageOutcome.Background"/> rows and their completions.</summary>
    public string? ResponseId { get; init; }

    /// <summary>
    /// Not a row of its own: the final usage of the background generation <see cref="ResponseId"/>, read from a later
    /// retrieval. It settles that generation's waiting row, if it still waits (one conditional update, so exactly once
    /// across retries, journal replays and instances), and changes nothing otherwise.
    /// </summary>
    public bool CompletesBackground { get; init; }
}
