namespace OpenAiRelay.Policy;

/// <summary>
/// What one client may do: requests and tokens per minute, requests in flight at once, dollars per period, and the
/// models and <c>/v1</c> endpoints it may use. Every field is optional; absent means unlimited. Stored with the key (<c>client_keys.policy</c>, JSON), or taken
/// from <c>Relay:Limits:Default</c> for keys that set none and for the shared <c>RELAY_TOKEN</c> tokens.
/// </summary>
internal sealed record KeyPolicy
{
    /// <summary>
    /// Endpoints that mint a credential usable against OpenAI without the relay (a Realtime ephemeral key, the beta
    /// Realtime sessions' client secrets, a ChatKit session's client secret): a limit would not follow it.
    /// </summary>
    private static readonly string[] s_credentialMinting =
        ["/v1/realtime/client_secrets", "/v1/realtime/sessions", "/v1/realtime/transcription_sessions", "/v1/chatkit/sessions"];

    /// <summary>
    /// Endpoints that start work the upstream bills later, outside any request the relay meters (a batch, a fine-tuning
    /// job, an eval run, a code-interpreter container): a budget would not see their cost.
    /// </summary>
    private static readonly string[] s_billedOutsideTheLedger = ["/v1/batches", "/v1/fine_tuning", "/v1/evals", "/v1/containers"];

    public static readonly KeyPolicy Unlimited = new();

    /// <summary>Requests per minute, a bucket that refills continuously (so no double burst at a minute boundary).</summary>
    public int? Rpm { get; init; }

    /// <summary>Input plus output tokens per minute: reserved at admission from the request's worst case, settled to the real usage.</summary>
    public int? Tpm { get; init; }

    /// <summary>Requests (and WebSocket sessions) in flight at once.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>Integer micro-dollars the key may spend per <see cref="BudgetPeriod"/>; null for no budget.</summary>
    public long? BudgetMicros { get; init; }

    /// <summary>The period <see cref="BudgetMicros"/> applies to (a UTC calendar day, week or month, or the key's whole life).</summary>
    public BudgetPeriod BudgetPeriod { get; init; } = BudgetPeriod.Month;

    /// <summary>
    /// <see cref="BudgetMode.Strict"/> admits only requests whose worst-case cost is known at admission (an output cap),
    /// so a budget can never be overshot; the default reserves a configured output for requests without one.
    /// </summary>
    public BudgetMode BudgetMode { get; init; } = BudgetMode.Reserve;

    /// <summary>Allowed model names, case-insensitive, a trailing <c>*</c> matching any suffix (<c>gpt-4o*</c>); null allows every model.</summary>
    public IReadOnlyList<string>? Models { get; init; }

    /// <summary>
    /// Allowed <c>/v1</c> path prefixes (<c>/v1/chat</c> allows <c>/v1/chat/completions</c>), matched on whole segments
    /// and case-insensitively, as the upstream routes them; null allows every endpoint but the ones named in
    /// <see cref="NeedsNaming"/>.
    /// </summary>
    public IReadOnlyList<string>? Endpoints { get; init; }

    /// <summary>True when the key has a rate, concurrency or budget limit.</summary>
    public bool HasLimits => Rpm is not null || Tpm is not null || MaxConcurrent is not null || BudgetMicros is not null;

    /// <summary>True when admission needs what the relay read of the body (model, prompt estimate, output cap).</summary>
    public bool ReadsBody => Tpm is not null || BudgetMicros is not null || Models is not null;

    /// <summary>True when the policy is the same as no policy at all.</summary>
    public bool IsUnlimited => !HasLimits && Endpoints is null && Models is null;

    /// <summary>Whether <paramref name="model"/> is on the allow-list (always, without one).</summary>
    public bool AllowsModel(string? model)
    {
        if (Models is not { } allowed)
        {
            return true;
        }

        if (string.IsNullOrEmpty(model))
        {
            return false;
        }

        foreach (var entry in allowed)
        {
            var matches = entry.EndsWith('*')
                ? model.StartsWith(entry.AsSpan(0, entry.Length - 1), StringComparison.OrdinalIgnoreCase)
                : model.Equals(entry, StringComparison.OrdinalIgnoreCase);
            if (matches)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="path"/> (the full request path, <c>/v1/...</c>) may be called. OpenAI's admin API
    /// (<c>/v1/organization/</c>) is refused unless the allow-list names it; so is an endpoint that mints a credential
    /// for direct use, for a key with any limit, since its holder could then spend past every limit, and, for a key
    /// with a budget, an endpoint whose cost the upstream bills outside the metered requests.
    /// </summary>
    public bool AllowsEndpoint(ReadOnlySpan<char> path)
    {
        var mustBeNamed = NeedsNaming(path, HasLimits, BudgetMicros is not null);
        if (Endpoints is not { } allowed)
        {
            return !mustBeNamed;
        }

        var root = mustBeNamed ? NamedRootOf(path, HasLimits, BudgetMicros is not null) : null;
        foreach (var prefix in allowed)
        {
            // A broad prefix (/v1) does not name the admin API or a minting endpoint: only an entry inside them does.
            if (IsUnder(path, prefix) && (root is null || IsUnder(prefix, root)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The organization admin API always needs naming; a credential-minting endpoint needs it for a limited key; an
    /// endpoint billed outside the ledger needs it for a key with a budget.
    /// </summary>
    public static bool NeedsNaming(ReadOnlySpan<char> path, bool limited, bool budgeted) => NamedRootOf(path, limited, budgeted) is not null;

    private static string? NamedRootOf(ReadOnlySpan<char> path, bool limited, bool budgeted)
    {
        if (IsUnder(path, "/v1/organization"))
        {
            return "/v1/organization";
        }

        foreach (var root in limited ? s_credentialMinting : [])
        {
            if (IsUnder(path, root))
            {
                return root;
            }
        }

        foreach (var root in budgeted ? s_billedOutsideTheLedger : [])
        {
            if (IsUnder(path, root))
            {
                return root;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="prefix"/> or below it, on segment boundaries.</summary>
    public static bool IsUnder(ReadOnlySpan<char> path, ReadOnlySpan<char> prefix)
    {
        prefix = prefix.TrimEnd('/');
        return path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && (path.Length == prefix.Length || path[prefix.Length] == '/');
    }
}
