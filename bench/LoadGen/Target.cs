namespace OpenAiRelay.LoadGen;

/// <summary>One way to reach the fake upstream: directly, through nginx, or through the relay (metering on or off, or with a limited key).</summary>
internal sealed record Target(string Name, Uri BaseAddress, string Authorization, int[] Pids)
{
    /// <summary>The relay with <c>Relay__Metering__Enabled=false</c>: forwarding alone, to measure what metering adds.</summary>
    public const string RelayOff = "relay-off";

    /// <summary>
    /// The same relay process as <c>relay</c>, reached with a client key (<c>rk_live_...</c>) created by
    /// <c>openai-relay keys create</c> with every limit set far above the load: what the limits cost per request.
    /// </summary>
    public const string RelayLimited = "relay-limited";

    /// <summary>The order targets run in within a scenario, and their columns in the report.</summary>
    public static readonly string[] Order = ["direct", "nginx", "relay", RelayOff, RelayLimited];

    /// <summary>
    /// The scenarios <see cref="RelayLimited"/> runs: the chat ones, whose CPU and latency it shares a process with
    /// <c>relay</c> to compare. Memory growth would not compare (the process has already grown in <c>relay</c>'s turn).
    /// </summary>
    public static readonly string[] LimitedScenarios = ["chat", "chat1"];

    /// <summary>The proxy's processes (relay, or nginx workers); empty for the direct baseline.</summary>
    public ProcessProbe Probe { get; } = new(Pids);

    public bool IsProxy => Pids.Length > 0;

    /// <summary>Whether this target takes part in <paramref name="scenario"/>.</summary>
    public bool Runs(string scenario) => Name != RelayLimited || LimitedScenarios.Contains(scenario);

    public Uri Url(string pathAndQuery) => new(BaseAddress, pathAndQuery);
}
