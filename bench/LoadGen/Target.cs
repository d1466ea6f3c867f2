namespace OpenAiRelay.LoadGen;

/// <summary>One way to reach the fake upstream: directly, through nginx, or through the relay.</summary>
internal sealed record Target(string Name, Uri BaseAddress, string Authorization, int[] Pids)
{
    /// <summary>The proxy's processes (relay, or nginx workers); empty for the direct baseline.</summary>
    public ProcessProbe Probe { get; } = new(Pids);

    public bool IsProxy => Pids.Length > 0;

    public Uri Url(string pathAndQuery) => new(BaseAddress, pathAndQuery);
}
