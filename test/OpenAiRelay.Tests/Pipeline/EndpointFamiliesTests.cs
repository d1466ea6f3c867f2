using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Tests.Pipeline;

public sealed class EndpointFamiliesTests
{
    [Theory]
    [InlineData("/chat/completions", "Generation")]
    [InlineData("/responses", "Generation")]
    [InlineData("/responses/resp_1/cancel", "Generation")]
    [InlineData("/audio/transcriptions", "Generation")]
    [InlineData("/realtime", "Generation")]
    [InlineData("/files", "Files")]
    [InlineData("/files/file-1/content", "Files")]
    [InlineData("/uploads/up_1/parts", "Files")]
    [InlineData("/models", "Default")]
    [InlineData("", "Default")]
    [InlineData("/", "Default")]
    [InlineData("/some-endpoint-that-does-not-exist-yet", "Default")]
    public void Paths_AreClassifiedByTheirFirstSegment(string remainder, string expected)
        => Assert.Equal(expected, EndpointFamilies.Classify(remainder).ToString());
}
