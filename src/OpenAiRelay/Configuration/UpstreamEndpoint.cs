namespace OpenAiRelay.Configuration;

/// <summary>
/// Where <c>/v1/...</c> lands upstream. <c>OPENAI_BASE_URL</c> may carry a path or not:
/// <c>https://api.openai.com</c> and <c>https://api.openai.com/v1</c> both map <c>/v1/chat/completions</c> to
/// <c>https://api.openai.com/v1/chat/completions</c>; <c>https://openrouter.ai/api/v1</c> maps it to
/// <c>https://openrouter.ai/api/v1/chat/completions</c>. The client's <c>/v1</c> is replaced by the base's path.
/// </summary>
internal sealed class UpstreamEndpoint
{
    /// <summary>OpenAI's API root, used when <c>OPENAI_BASE_URL</c> has no path of its own.</summary>
    public const string DefaultApiRoot = "/v1";

    private UpstreamEndpoint(Uri baseUri, string destinationPrefix)
    {
        BaseUri = baseUri;
        DestinationPrefix = destinationPrefix;
    }

    public Uri BaseUri { get; }

    /// <summary>Scheme, authority and API root, without a trailing slash: the client path after <c>/v1</c> is appended.</summary>
    public string DestinationPrefix { get; }

    /// <summary>Parses an already validated base URL.</summary>
    public static UpstreamEndpoint Parse(string baseUrl)
        => TryParse(baseUrl, out var endpoint, out var error) ? endpoint! : throw new ArgumentException(error, nameof(baseUrl));

    public static bool TryParse(string? baseUrl, out UpstreamEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        if (!Uri.TryCreate(baseUrl?.Trim(), UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = "OPENAI_BASE_URL must be an absolute http:// or https:// URL, for example https://api.openai.com";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            error = "OPENAI_BASE_URL must not carry a query string, fragment or credentials";
            return false;
        }

        var path = uri.AbsolutePath.TrimEnd('/');
        var apiRoot = path.Length == 0 ? DefaultApiRoot : path;
        endpoint = new UpstreamEndpoint(uri, uri.GetLeftPart(UriPartial.Authority) + apiRoot);
        error = null;
        return true;
    }
}
