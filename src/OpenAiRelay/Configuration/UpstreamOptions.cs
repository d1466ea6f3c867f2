namespace OpenAiRelay.Configuration;

internal sealed class UpstreamOptions
{
    public const string Section = "Relay:Upstream";

    public const string DefaultBaseUrl = "https://api.openai.com";

    /// <summary>The server's own key. Never leaves the process except towards <see cref="BaseUrl"/>.</summary>
    public string? ApiKey { get; set; }

    public string BaseUrl { get; set; } = DefaultBaseUrl;

    public string? Organization { get; set; }

    public string? Project { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);
}
