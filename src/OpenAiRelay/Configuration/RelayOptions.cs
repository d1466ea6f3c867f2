namespace OpenAiRelay.Configuration;

/// <summary>
/// Everything the relay is configured with, bound from the <c>Relay</c> configuration section.
/// The deployment guide's environment variables (<c>OPENAI_API_KEY</c>, <c>RELAY_TOKEN</c>, ...) are mapped
/// onto these keys by <see cref="LegacyEnvironmentVariables"/>.
/// </summary>
internal sealed class RelayOptions
{
    public const string SectionName = "Relay";

    public UpstreamOptions Upstream { get; set; } = new();

    /// <summary>Comma-separated client bearer tokens. Several allow rotation without downtime.</summary>
    public string? Tokens { get; set; }

    public ListenerOptions Listen { get; set; } = new();

    public TimeoutOptions Timeouts { get; set; } = new();

    public LimitOptions Limits { get; set; } = new();

    public StorageOptions Storage { get; set; } = new();

    public MeteringOptions Metering { get; set; } = new();

    public KeyOptions Keys { get; set; } = new();

    /// <summary><c>RELAY_ADMIN_TOKEN</c>: the bearer token of the <c>/admin/</c> API. Unset, the admin API does not exist (404).</summary>
    public string? AdminToken { get; set; }

    /// <summary><c>RELAY_PRICES_FILE</c>: a JSON price table merged over the shipped one.</summary>
    public string? PricesFile { get; set; }

    /// <summary>How long in-flight requests (streams included) may run on after SIGTERM before they are cancelled.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
