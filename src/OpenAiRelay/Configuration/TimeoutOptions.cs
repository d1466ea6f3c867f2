namespace OpenAiRelay.Configuration;

internal sealed class TimeoutOptions
{
    public const string Section = "Relay:Timeouts";

    /// <summary>
    /// Idle (no bytes either way) timeout on generation endpoints: a non-streaming reasoning request can stay
    /// silent for many minutes while the upstream works and bills, so this must be long (security.md, "Slow first byte").
    /// </summary>
    public TimeSpan GenerationIdle { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Idle timeout for everything else (metadata, files, downloads).</summary>
    public TimeSpan DefaultIdle { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long one write to the client may stay pending (the client reads nothing) before the connection is closed and
    /// the upstream call cancelled; zero turns it off. Half nginx's <c>send_timeout</c>, so behind nginx its own rule is
    /// not the first to fire on the client's side, yet a relay exposed directly still frees a stalled download.
    /// </summary>
    public TimeSpan StalledClient { get; set; } = TimeSpan.FromSeconds(30);
}
