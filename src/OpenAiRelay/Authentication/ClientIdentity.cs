namespace OpenAiRelay.Authentication;

/// <summary>Who sent a request, by a label that is safe to log (never the token itself).</summary>
internal sealed record ClientIdentity(string Label)
{
    /// <summary>Used when no token is configured: the relay is open and says so at start-up.</summary>
    public static readonly ClientIdentity Anonymous = new("anonymous");
}
