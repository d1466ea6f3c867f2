using System.Diagnostics;
using System.Text.Json;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>
/// What the official Python SDK sends, over its transport (Debian's <c>python3-httpx</c>, with the SDK's default
/// headers and httpx's <c>Accept-Encoding: gzip, deflate</c>): every metered family is ledgered with exactly the usage
/// the client itself read.
/// </summary>
public sealed class PythonClientTests : IAsyncLifetime
{
    private AccountingHarness _h = null!;

    public async Task InitializeAsync() => _h = await AccountingHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task HttpxClient_LedgerMatchesTheUsageTheClientRead()
    {
        var script = Path.Combine(RepositoryPaths.Root, "test", "python-client", "relay_client.py");
        var start = new ProcessStartInfo(PythonWithHttpx(), [script, _h.Relay.ApiBase.ToString(), RelayServer.ClientToken])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout();
        Assert.True(process.ExitCode == 0, await stderr);

        var lines = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        foreach (var line in lines)
        {
            using var result = JsonDocument.Parse(line);
            var root = result.RootElement;
            Assert.Equal(200, root.GetProperty("status").GetInt32());
            var usage = root.GetProperty("usage");
            var input = usage.TryGetProperty("prompt_tokens", out var p) ? p.GetInt64() : usage.GetProperty("input_tokens").GetInt64();
            var output = usage.TryGetProperty("completion_tokens", out var c) ? c.GetInt64() : usage.TryGetProperty("output_tokens", out var o) ? o.GetInt64() : 0;

            var row = await _h.SettledAsync(root.GetProperty("request_id").GetString()!);
            Assert.Equal(UsageOutcome.Completed, row.Outcome);
            Assert.False(row.Estimated, line);
            Assert.Equal((input, output), (row.InputTokens, row.OutputTokens));
        }

        // Every metered request reached the upstream asking for identity, whatever httpx offered.
        Assert.All(_h.Fake.Requests, r => Assert.Equal("identity", r.Headers.GetValueOrDefault("Accept-Encoding")));
    }

    /// <summary>Debian's python3 (where <c>python3-httpx</c> installs), or the first python3 on PATH that has httpx.</summary>
    private static string PythonWithHttpx()
    {
        foreach (var candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo(candidate, ["-c", "import httpx"]) { RedirectStandardError = true })!;
                probe.WaitForExit(10_000);
                if (probe.ExitCode == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        Assert.Fail("no python3 with httpx: install Debian's python3-httpx (.ci/run does)");
        return null!;
    }
}
