using System.Diagnostics;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>
/// The shipped deploy/prometheus files as Prometheus' own promtool reads them: the scrape config (with the rule file it
/// names) and the alert rules are valid, and each alert fires on the series it is about and not on healthy ones
/// (test/prometheus/alerts.test.yml).
/// </summary>
public sealed class PrometheusConfigTests
{
    [Fact]
    public async Task Promtool_ChecksTheShippedConfig_AndTheRuleFileItNames()
    {
        var (exitCode, output) = await PromtoolAsync("check", "config", "deploy/prometheus/prometheus.yml");
        Assert.True(exitCode == 0, "promtool check config failed:\n" + output);
        Assert.Contains("1 rule files found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promtool_ChecksTheShippedAlertRules()
    {
        var (exitCode, output) = await PromtoolAsync("check", "rules", "deploy/prometheus/alerts.yml");
        Assert.True(exitCode == 0, "promtool check rules failed:\n" + output);
        Assert.Contains("SUCCESS: 5 rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promtool_AlertUnitTests_FireEachAlertOnItsSeriesOnly()
    {
        var (exitCode, output) = await PromtoolAsync("test", "rules", "test/prometheus/alerts.test.yml");
        Assert.True(exitCode == 0, "promtool test rules failed:\n" + output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(params string[] arguments)
    {
        var promtool = ComposeConfig.FindExecutable("promtool")
            ?? throw new Xunit.Sdk.XunitException("promtool is not installed: apt-get install prometheus (.ci/run installs it).");
        var psi = new ProcessStartInfo(promtool, arguments)
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await errors);
    }
}
