namespace OpenAiRelay.Configuration;

/// <summary>
/// Metrics (<c>Relay:Metrics</c>): the Prometheus scrape endpoint <c>/metrics</c>, off unless a port or a token is set.
/// OTLP export of the same instruments follows the standard <c>OTEL_*</c> variables instead.
/// </summary>
internal sealed class MetricsOptions
{
    public const string Section = "Relay:Metrics";

    public const string Path = "/metrics";

    /// <summary>
    /// <c>RELAY_METRICS_PORT</c>: a listener of its own that serves only <c>/metrics</c>, never the API. Null: none.
    /// </summary>
    public int? Port { get; set; }

    /// <summary><c>RELAY_METRICS_BIND_ADDRESS</c>: loopback by default, so only the host's own Prometheus scrapes it.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// <c>RELAY_METRICS_TOKEN</c>: with it, <c>/metrics</c> is also served on the public port, to
    /// <c>Authorization: Bearer &lt;token&gt;</c> only; the metrics port then asks for it too.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// How many distinct keys get a series of their own on the per-key instruments (cost, tokens); the rest are
    /// counted under <c>other</c>, so a relay with many keys cannot grow Prometheus without bound. 0: no key labels.
    /// </summary>
    public int MaxKeySeries { get; set; } = 100;

    /// <summary>How many distinct model names get a series; models beyond it, or without a price, are <c>_OTHER</c>.</summary>
    public int MaxModelSeries { get; set; } = 100;

    public bool ServesScrapes => Port is not null || !string.IsNullOrEmpty(Token);
}
