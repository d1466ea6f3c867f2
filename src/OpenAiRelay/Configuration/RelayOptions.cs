namespace OpenAiRelay.Configuration;

/// <summary>
/// The settings directly under the <c>Relay</c> section. Every sub-section has its own options type, bound and
/// validated on its own (<see cref="RelayConfiguration.AddRelayOptions"/>); the deployment guide's environment
/// variables (<c>OPENAI_API_KEY</c>, <c>RELAY_TOKEN</c>, ...) are mapped onto these keys by
/// <see cref="LegacyEnvironmentVariables"/>.
/// </summary>
internal sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>
    /// <c>RELAY_TOKEN</c>: the shared client bearer tokens. Several allow rotation without downtime. Configured as a
    /// list (<c>Relay:Tokens:0</c>, <c>Relay:Tokens:1</c>) or, as the guide's variable is, one comma-separated value.
    /// </summary>
    public IReadOnlyList<string> Tokens { get; set; } = [];

    /// <summary><c>RELAY_ADMIN_TOKEN</c>: the bearer token of the <c>/admin/</c> API. Unset, the admin API does not exist (404).</summary>
    public string? AdminToken { get; set; }

    /// <summary><c>RELAY_PRICES_FILE</c>: a JSON price table merged over the shipped one.</summary>
    public string? PricesFile { get; set; }

    /// <summary>How long in-flight requests (streams included) may run on after SIGTERM before they are cancelled.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after SIGTERM the relay keeps accepting connections, answering <c>/readyz</c> with 503 and new requests
    /// with 503 and <c>Retry-After</c>, before it stops listening. Zero (the default) suits one relay behind nginx;
    /// behind a balancer that polls readiness, set it to the time the balancer needs to notice. Counts towards
    /// <see cref="ShutdownTimeout"/>.
    /// </summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.Zero;
}
