namespace OpenAiRelay.Configuration;

/// <summary>Client keys stored in the database (<c>Relay:Keys</c>).</summary>
internal sealed class KeyOptions
{
    public const string Section = "Relay:Keys";

    /// <summary>
    /// <c>RELAY_KEY_PEPPER</c>: the HMAC key under which key secrets are hashed. When unset, a random 32-byte file
    /// <c>pepper</c> is created in the data directory. Instances sharing one PostgreSQL database must share it.
    /// </summary>
    public string? Pepper { get; set; }

    /// <summary>
    /// How long a verified key stays cached. This bounds how late a revocation (or expiry) made elsewhere,
    /// for example by another instance or the CLI, takes effect here.
    /// </summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(5);
}
