namespace OpenAiRelay.Configuration;

internal sealed class ListenerOptions
{
    public const string Section = "Relay:Listen";

    public const int DefaultPort = 3001;

    public int Port { get; set; } = DefaultPort;

    /// <summary>Loopback by default: a bare run must not expose the key to the network by accident.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// <c>RELAY_TRUSTED_PROXIES</c>: addresses or CIDR ranges whose <c>X-Forwarded-For</c> is believed; a list, or one
    /// comma-separated value. Loopback (where the shipped nginx runs) by default; empty believes no one.
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; set; } = ["127.0.0.1", "::1"];
}
