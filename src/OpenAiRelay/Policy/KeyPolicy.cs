namespace OpenAiRelay.Policy;

/// <summary>
/// What one client may do: requests per minute, requests in flight at once, and the <c>/v1</c> endpoints it may call.
/// Every field is optional; absent means unlimited. Stored with the key (<c>client_keys.policy</c>, JSON), or taken
/// from <c>Relay:Limits:Default</c> for keys that set none and for the shared <c>RELAY_TOKEN</c> tokens.
/// </summary>
internal sealed record KeyPolicy
{
    /// <summary>Endpoints that mint a credential usable against OpenAI without the relay: a limit would not follow it.</summary>
    private static readonly string[] s_credentialMinting = ["/v1/realtime/client_secrets"];

    public static readonly KeyPolicy Unlimited = new();

    /// <summary>Requests per minute, a bucket that refills continuously (so no double burst at a minute boundary).</summary>
    public int? Rpm { get; init; }

    /// <summary>Requests (and WebSocket sessions) in flight at once.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>
    /// Allowed <c>/v1</c> path prefixes (<c>/v1/chat</c> allows <c>/v1/chat/completions</c>), matched on whole segments
    /// and case-insensitively, as the upstream routes them; null allows every endpoint but the ones named in
    /// <see cref="NeedsNaming"/>.
    /// </summary>
    public IReadOnlyList<string>? Endpoints { get; init; }

    /// <summary>True when the key has a rate or concurrency limit.</summary>
    public bool HasLimits => Rpm is not null || MaxConcurrent is not null;

    /// <summary>True when the policy is the same as no policy at all.</summary>
    public bool IsUnlimited => !HasLimits && Endpoints is null;

    /// <summary>
    /// Whether <paramref name="path"/> (the full request path, <c>/v1/...</c>) may be called. OpenAI's admin API
    /// (<c>/v1/organization/</c>) is refused unless the allow-list names it; so is an endpoint that mints a credential
    /// for direct use, for a key with any limit, since its holder could then spend past every limit.
    /// </summary>
    public bool AllowsEndpoint(ReadOnlySpan<char> path)
    {
        var mustBeNamed = NeedsNaming(path, HasLimits);
        if (Endpoints is not { } allowed)
        {
            return !mustBeNamed;
        }

        var root = mustBeNamed ? NamedRoot(path) : null;
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

    /// <summary>The organization admin API always needs naming; a credential-minting endpoint needs it for a limited key.</summary>
    public static bool NeedsNaming(ReadOnlySpan<char> path, bool limited)
    {
        if (IsUnder(path, "/v1/organization"))
        {
            return true;
        }

        if (limited)
        {
            foreach (var minting in s_credentialMinting)
            {
                if (IsUnder(path, minting))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="prefix"/> or below it, on segment boundaries.</summary>
    public static bool IsUnder(ReadOnlySpan<char> path, ReadOnlySpan<char> prefix)
    {
        prefix = prefix.TrimEnd('/');
        return path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && (path.Length == prefix.Length || path[prefix.Length] == '/');
    }

    private static string NamedRoot(ReadOnlySpan<char> path)
    {
        if (IsUnder(path, "/v1/organization"))
        {
            return "/v1/organization";
        }

        foreach (var minting in s_credentialMinting)
        {
            if (IsUnder(path, minting))
            {
                return minting;
            }
        }

        return "/v1";
    }
}
