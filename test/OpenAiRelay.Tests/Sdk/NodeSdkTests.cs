using System.Diagnostics;
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
        var suite = Path.Combine(RepositoryPaths.Root, "test", "node-sdk");
        Assert.True(
            Directory.Exists(Path.Combine(suite, "node_modules", "openai")),
            "The Node SDK is not installed: run `npm ci --prefix test/node-sdk` (./test.sh does).");

        var psi = new ProcessStartInfo("node", ["--test", "--test-reporter=tap", "sdk.test.mjs"])
        {
            WorkingDirectory = suite,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["OPENAI_BASE_URL"] = fixture.Relay.ApiBase.ToString();
        psi.Environment["OPENAI_API_KEY"] = RelayServer.ClientToken;
        psi.Environment["FAKE_UPSTREAM_HINTS"] = "1";
        using var node = Process.Start(psi)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var log = await output + await errors;
        Assert.True(node.ExitCode == 0, "node --test failed:\n" + log);
        Assert.Contains("# fail 0", log, StringComparison.Ordinal);
        Assert.DoesNotContain("# pass 0", log, StringComparison.Ordinal);
    }
}
