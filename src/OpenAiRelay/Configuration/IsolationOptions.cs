namespace OpenAiRelay.Configuration;

/// <summary>Keeping keys apart (<c>Relay:Isolation</c>): whether each client key sees only the upstream objects it created.</summary>
internal sealed class IsolationOptions
{
    public const string Section = "Relay:Isolation";

    public const string Shared = "shared";
    public const string PerKey = "per-key";

    /// <summary>
    /// <c>shared</c> (for now the default: every token reaches every object, as before) or <c>per-key</c>: a client
    /// key reaches by id, and names in a request body, only objects it created through the relay; a shared
    /// <c>RELAY_TOKEN</c> reaches all of them.
    /// </summary>
    public string Mode { get; set; } = Shared;

    public bool IsPerKey => string.Equals(Mode, PerKey, StringComparison.OrdinalIgnoreCase);
}
