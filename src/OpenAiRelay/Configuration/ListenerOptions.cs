namespace OpenAiRelay.Configuration;

internal sealed class ListenerOptions
{
    public const int DefaultPort = 3001;

    public int Port { get; set; } = DefaultPort;

    /// <summary>Loopback by default: a bare run must not expose the key to the network by accident.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Comma-separated addresses or CIDR ranges whose <c>X-Forwarded-For</c> is believed.</summary>
    public string TrustedProxies { get; set; } = "127.0.0.1,::1";
}
