namespace OpenAiRelay.LoadGen;

/// <summary>One way to reach the fake upstream: directly, through nginx, or through the relay (metering on or off).</summary>
internal sealed record Target(string Name, Uri BaseAddress, string Authorization, int[] Pids)
{
    /// <summary>The relay with <c>Relay__Metering__Enabled=false</c>: forwarding alone, to measure what metering adds.</summary>
    public const string RelayOff = "relay-off";

    /// <summary>The order targets run in within a scenario, and their columns in the report.</summary>
    public static readonly string[] Order = ["direct", "nginx", "relay", RelayOff];

    /// <summary>The proxy's processes (relay, or nginx workers); empty for the direct baseline.</summary>
    public ProcessProbe Probe { get; } = new(Pids);

    public bool IsProxy => Pids.Length > 0;

    public Uri Url(string pathAndQuery) => new(BaseAddress, pathAndQuery);
}
