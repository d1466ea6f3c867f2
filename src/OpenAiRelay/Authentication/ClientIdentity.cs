using OpenAiRelay.Policy;

namespace OpenAiRelay.Authentication;

/// <summary>
/// Who sent a request, by a label that is safe to log (never the token itself). <see cref="KeyId"/> is set for
/// database keys (the label is then <c>rk_live_&lt;keyid&gt;</c>) and null for shared <c>RELAY_TOKEN</c> tokens.
/// </summary>
/// <remarks>
/// An identity is its own <see cref="IClientFeature"/>: identities are cached per token, so setting the feature on a
/// request allocates nothing.
/// </remarks>
internal sealed record ClientIdentity(string Label, string? KeyId = null, KeyPolicy? Policy = null) : IClientFeature
{
    ClientIdentity IClientFeature.Client => this;

    /// <summary>Used when no token is configured: the relay is open and says so at start-up.</summary>
    public static readonly ClientIdentity Anonymous = new("anonymous");

    /// <summary>What this client may do: its key's own policy, or else the configured default (null: unlimited).</summary>
    public KeyPolicy EffectivePolicy => Policy ?? KeyPolicy.Unlimited;

    /// <summary>The policy an identity carries: the key's own when it sets any field, else the default; null when unlimited.</summary>
    public static KeyPolicy? PolicyOf(KeyPolicy own, KeyPolicy fallback)
    {
        var policy = own.IsUnlimited ? fallback : own;
        return policy.IsUnlimited ? null : policy;
    }

    /// <summary>The ledger's <c>key_id</c>: the database key id, or the label of a shared token.</summary>
    public string LedgerKeyId => KeyId ?? Label;
}
