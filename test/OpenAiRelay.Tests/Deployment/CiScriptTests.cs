using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>.ci/run runs on a fresh machine: it must install every external tool the deployment tests start.</summary>
public sealed class CiScriptTests
{
    [Theory]
    [InlineData("nginx-light", "nginx: the shipped site runs in the real nginx")]
    [InlineData("docker-compose", "docker-compose config validates compose.yaml (its PyYAML reads the output)")]
    [InlineData("systemd", "systemd-analyze verifies the unit")]
    [InlineData("chromium", "the web console's browser tests drive /usr/bin/chromium through Playwright")]
    [InlineData("prometheus", "promtool checks deploy/prometheus; PrometheusServerTests scrape a relay with /usr/bin/prometheus")]
    public void CiRun_InstallsTheToolsTheDeploymentTestsNeed(string package, string why)
    {
        var script = File.ReadAllText(Path.Combine(RepositoryPaths.Root, ".ci/run"));
        var packages = script.Split('\n').Single(l => l.TrimStart().StartsWith("packages=(", StringComparison.Ordinal));
        Assert.True(packages.Split(['(', ')', ' '], StringSplitOptions.RemoveEmptyEntries).Contains(package), $".ci/run does not install {package} ({why})");
    }
}
