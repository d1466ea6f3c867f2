namespace OpenAiRelay.Configuration;

/// <summary>
/// The Redis every relay instance shares its per-key limits through (<c>Relay:Redis</c>). Without <see cref="Url"/>
/// the limits are held in each process (<see cref="Limits.KeyLimiter"/>).
/// </summary>
internal sealed class RedisOptions
{
    public const string Section = "Relay:Redis";

    /// <summary><c>REDIS_URL</c>: <c>redis://host:6379/0</c>, <c>redis://:password@host:6379/0</c>, or <c>rediss://</c> for TLS.</summary>
    public string? Url { get; set; }

    /// <summary>
    /// How long a request's slot and reservation outlive the last sign of the relay that holds them: renewed every
    /// <see cref="HeartbeatInterval"/> while the request runs, so only a relay that died (or lost Redis) lets them lapse.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>How often the open leases are renewed; at most a third of <see cref="LeaseDuration"/>.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(20);
}
