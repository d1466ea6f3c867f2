namespace OpenAiRelay.Metering;

/// <summary>What metering knows about one admitted request, from its body on the way in and its response on the way out.</summary>
internal sealed class RequestMeter(string endpoint, bool expectsUsage) : IRequestBodyFeature
{
    /// <summary>The path below <c>/v1</c>, for example <c>/chat/completions</c>.</summary>
    public string Endpoint { get; } = endpoint;

    /// <summary>A generation endpoint that reports usage: a response without it gets an estimate, never a silent zero.</summary>
    public bool ExpectsUsage { get; } = expectsUsage;

    public bool GeneratesOutput => ExpectsUsage && !Endpoint.Equals("/embeddings", StringComparison.OrdinalIgnoreCase);

    public bool IsForm { get; set; }

    /// <summary>A read of a stored response (<see cref="MeteredEndpoints.IsStoredResponseRead"/>): observed, never billed.</summary>
    public bool ReadsStoredResponse { get; init; }

    /// <summary>The relay reads the response body, so it asks the upstream for it uncompressed.</summary>
    public bool ObservesResponse => ExpectsUsage || ReadsStoredResponse;

    /// <summary>The request asked for a background generation (<c>"background": true</c>).</summary>
    public bool Background { get; set; }

    public string? RequestedModel { get; set; }

    public bool Stream { get; set; }

    /// <summary>The relay added <c>stream_options.include_usage</c>; the usage chunk must not reach the client.</summary>
    public bool InjectedUsage { get; set; }

    /// <summary>Prompt tokens counted with a real tokenizer at admission (the fallback when usage never arrives).</summary>
    public long PromptEstimate { get; set; }

    /// <summary>The request's own output cap (<c>max_tokens</c>, <c>max_completion_tokens</c>, <c>max_output_tokens</c>), or null.</summary>
    public long? OutputCap { get; set; }

    /// <summary>Choices asked for (<c>n</c>), 1 unless the request asks for more.</summary>
    public int Choices { get; set; } = 1;

    public UsageWalker Walker { get; } = new();

    /// <summary>Usage added up over a session's several responses (WebSocket); null for single-response requests.</summary>
    public TokenUsage? SessionUsage { get; private set; }

    /// <summary>The usage to record: a session's total, or the response's own.</summary>
    public TokenUsage? Usage => SessionUsage ?? Walker.Usage;

    /// <summary>The usage could not be read: the walker rejected a usage object, or a session's sum went past its limit.</summary>
    public bool UsageRejected => Walker.UsageRejected || _sessionOverflow;

    private bool _sessionOverflow;

    /// <summary>Adds one response's usage to a session's total, with checked sums capped at <see cref="UsageLimits.MaxSessionTokens"/>.</summary>
    public void AddUsage(TokenUsage usage)
    {
        var total = SessionUsage ?? default;
        var sum = new TokenUsage(
            total.Input + usage.Input, total.Cached + usage.Cached, total.Output + usage.Output, total.Reasoning + usage.Reasoning,
            total.AudioMilliseconds + usage.AudioMilliseconds);
        // Each addend is at most UsageLimits.MaxTokens (validated), so the sums cannot wrap before this check.
        if (sum.Input > UsageLimits.MaxSessionTokens || sum.Output > UsageLimits.MaxSessionTokens)
        {
            _sessionOverflow = true;
            return;
        }

        SessionUsage = sum;
    }

    public Func<string, Errors.RelayError?>? FormModelCheck { get; set; }

    public Func<TokenUsage, string?, bool>? OnSessionResponse { get; set; }

    public string? Model => RequestedModel ?? Walker.Model;

    string? IRequestBodyFeature.Model => RequestedModel;
}
