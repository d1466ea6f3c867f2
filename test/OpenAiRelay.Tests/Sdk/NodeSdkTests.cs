using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>
/// The official Node SDK (<c>openai</c> from npm) runs its suite in <c>test/node-sdk</c> through the relay,
/// configured only with <c>OPENAI_BASE_URL</c> and a relay token as <c>OPENAI_API_KEY</c>.
/// </summary>
public sealed class NodeSdkTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Fact]
    public async Task NodeSdkSuite_PassesThroughTheRelay()
    {
        var (exitCode, log) = await NodeSuite.RunAsync(
            "sdk.test.mjs",
            new Dictionary<string, string>
            {
                ["OPENAI_BASE_URL"] = fixture.Relay.ApiBase.ToString(),
                ["OPENAI_API_KEY"] = RelayServer.ClientToken,
                ["FAKE_UPSTREAM_HINTS"] = "1",
            },
            TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, "node --test failed:\n" + log);
        Assert.Contains("# fail 0", log, StringComparison.Ordinal);
        Assert.DoesNotContain("# pass 0", log, StringComparison.Ordinal);
    }
}
