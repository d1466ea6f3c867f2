namespace OpenAiRelay.Configuration;

/// <summary>Keeping keys apart (<c>Relay:Isolation</c>): whether each client key sees only the upstream objects it created.</summary>
internal sealed class IsolationOptions
{
    public const string Section = "Relay:Isolation";

    public const string Shared = "shared";
    public const string PerKey = "per-key";

    /// <summary>
    /// <c>per-key</c> (the default): a client key reaches by id, names in a request body or a WebSocket event, and
    /// lists only the objects it created through the relay; a shared <c>RELAY_TOKEN</c> reaches all of them, so a
    /// relay without client keys works as before. <c>shared</c>: every token reaches every object.
    /// </summary>
    public string Mode { get; set; } = PerKey;

    public bool IsPerKey => string.Equals(Mode, PerKey, StringComparison.OrdinalIgnoreCase);
}
