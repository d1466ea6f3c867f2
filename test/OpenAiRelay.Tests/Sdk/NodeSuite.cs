using System.Diagnostics;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>Runs a <c>node --test</c> script of <c>test/node-sdk</c> (the official <c>openai</c> npm package) with an environment.</summary>
internal static class NodeSuite
{
    /// <summary>The script's exit code and its TAP output (stdout and stderr).</summary>
    public static async Task<(int ExitCode, string Log)> RunAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var suite = Path.Combine(RepositoryPaths.Root, "test", "node-sdk");
        Assert.True(
            Directory.Exists(Path.Combine(suite, "node_modules", "openai")),
            "The Node SDK is not installed: run `npm ci --prefix test/node-sdk` (./test.sh does).");

        var psi = new ProcessStartInfo("node", ["--test", "--test-reporter=tap", script])
        {
            WorkingDirectory = suite,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            psi.Environment[name] = value;
        }

        using var node = Process.Start(psi)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(timeout);
        return (node.ExitCode, await output + await errors);
    }
}
