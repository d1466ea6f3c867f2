namespace OpenAiRelay.Admin;

/// <summary>Who performs an admin action, as the audit log names them: a label and, over HTTP, the client address.</summary>
internal sealed record AdminActor(string Label, string? Address)
{
    /// <summary>The admin HTTP API: the admin token is one shared credential, so the address tells callers apart.</summary>
    public static AdminActor Api(HttpContext context) => new("admin-token", context.Connection.RemoteIpAddress?.ToString());

    /// <summary>A CLI verb, run by this operating-system user on the server (or in its container).</summary>
    public static AdminActor Cli() => new("cli:" + Environment.UserName, null);
}
