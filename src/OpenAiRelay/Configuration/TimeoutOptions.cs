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
}
