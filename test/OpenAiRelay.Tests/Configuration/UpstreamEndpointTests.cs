using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Configuration;

public sealed class UpstreamEndpointTests
{
    [Theory]
    [InlineData("https://api.openai.com", "https://api.openai.com/v1")]
    [InlineData("https://api.openai.com/", "https://api.openai.com/v1")]
    [InlineData("https://api.openai.com/v1", "https://api.openai.com/v1")]
    [InlineData("https://api.openai.com/v1/", "https://api.openai.com/v1")]
    [InlineData("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1")]
    [InlineData("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1")]
    [InlineData("  http://127.0.0.1:8000  ", "http://127.0.0.1:8000/v1")]
    public void BaseUrlWithOrWithoutPath_MapsClientV1ToTheRightRoot(string baseUrl, string expectedPrefix)
    {
        Assert.True(UpstreamEndpoint.TryParse(baseUrl, out var endpoint, out var error), error);
        Assert.Equal(expectedPrefix, endpoint!.DestinationPrefix);
    }

    [Theory]
    [InlineData("")]
    [InlineData("api.openai.com")]
    [InlineData("ftp://api.openai.com")]
    [InlineData("https://user:pass@api.openai.com")]
    [InlineData("https://api.openai.com/v1?x=1")]
    public void InvalidBaseUrl_IsRejectedWithAMessageNamingTheVariable(string baseUrl)
    {
        Assert.False(UpstreamEndpoint.TryParse(baseUrl, out _, out var error));
        Assert.Contains("OPENAI_BASE_URL", error, StringComparison.Ordinal);
    }
}
