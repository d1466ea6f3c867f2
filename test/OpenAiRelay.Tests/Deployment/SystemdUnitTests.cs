using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpenAiRelay.Tests.Deployment;

/// <summary>deploy/systemd/openai-relay.service, for hosts without Docker (docs/deploy.md, section 8).</summary>
public sealed partial class SystemdUnitTests
{
    private static readonly string s_path = Path.Combine(RepositoryPaths.Root, "deploy/systemd/openai-relay.service");

    [Fact]
    public async Task Unit_PassesSystemdAnalyzeVerify_WithoutWarnings()
    {
        var analyze = ComposeConfig.FindExecutable("systemd-analyze");
        // .ci/run installs systemd: a missing systemd-analyze is a broken test machine, not a pass.
        Assert.True(analyze is not null, "systemd-analyze is not installed (apt-get install systemd; .ci/run installs it)");

        // verify checks that ExecStart exists: point it at the published relay, as installed under /opt/openai-relay.
        var unit = await File.ReadAllTextAsync(s_path);
        const string InstalledPath = "ExecStart=/opt/openai-relay/openai-relay\n";
        Assert.Equal(1, Regex.Count(unit, Regex.Escape(InstalledPath)));
        var directory = Path.Combine(Path.GetTempPath(), "openai-relay-systemd-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var copy = Path.Combine(directory, "openai-relay.service");
        await File.WriteAllTextAsync(copy, unit.Replace(InstalledPath, "ExecStart=" + await PublishedRelay.GetExecutableAsync() + "\n", StringComparison.Ordinal));

        var psi = new ProcessStartInfo(analyze, ["verify", copy]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var text = await stdout + await stderr;
        Directory.Delete(directory, recursive: true);

        Assert.True(process.ExitCode == 0, "systemd-analyze verify failed:\n" + text);
        // verify exits 0 even for unknown or misspelt keys ("Unknown key 'ProtectSystm'"); those lines name the unit.
        Assert.DoesNotContain(text.Split('\n'), line => line.Contains("openai-relay.service", StringComparison.Ordinal));
    }

    [Fact]
    public void Unit_StopsGracefully_AndLogsJsonLikeTheImage()
    {
        var unit = File.ReadAllText(s_path);
        Assert.Contains("\nKillSignal=SIGTERM\n", unit, StringComparison.Ordinal);
        var stop = TimeSpan.FromSeconds(int.Parse(StopTimeout().Match(unit).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(stop > ShippedDefaults.ShutdownTimeout, $"TimeoutStopSec {stop} must exceed Relay:ShutdownTimeout {ShippedDefaults.ShutdownTimeout}");
        Assert.Contains("\nEnvironment=Logging__Console__FormatterName=json\n", unit, StringComparison.Ordinal);
        Assert.Contains("\nExecStart=/opt/openai-relay/openai-relay\n", unit, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\nTimeoutStopSec=(\d+)\n")]
    private static partial Regex StopTimeout();
}
