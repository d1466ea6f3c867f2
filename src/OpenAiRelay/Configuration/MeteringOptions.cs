namespace OpenAiRelay.Configuration;

/// <summary>Usage metering (<c>Relay:Metering</c>).</summary>
internal sealed class MeteringOptions
{
    public const string Section = "Relay:Metering";

    /// <summary>
    /// On by default: every forwarded request gets a ledger row. Off makes the relay a plain transparent forwarder
    /// (no body inspection, no include_usage injection, no ledger rows); keys still work. The benchmark uses it to
    /// measure what metering costs over forwarding alone.
    /// </summary>
    public bool Enabled { get; set; } = true;
}
