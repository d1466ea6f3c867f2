using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Deployment;

/// <summary><c>compose.yaml</c> as <c>docker-compose config</c> resolves it, beside a .env like the one docs/deploy.md step 3 writes.</summary>
public sealed partial class ComposeFileTests
{
    private const string DotEnv = "OPENAI_API_KEY=sk-compose-test\nRELAY_TOKEN=compose-test-token\n# a comment\nOPENAI_BASE_URL=http://upstream.invalid/v1\n";

    /// <summary>The lines docs/observability.md adds to .env for the observability profile.</summary>
    private const string ObservabilityEnv = "RELAY_METRICS_PORT=9464\nRELAY_METRICS_BIND_ADDRESS=0.0.0.0\nGRAFANA_ADMIN_PASSWORD=grafana-admin-canary\n";

    [Fact]
    public async Task Config_IsValid_PublishesOnLoopbackOnly_BuildsFromTheRoot_AndReadsDotEnv()
    {
        var config = await ComposeConfig.RunAsync(DotEnv);
        Assert.True(config.ExitCode == 0, "docker-compose config failed:\n" + config.Errors);
        var relay = config.Relay;

        // build: . (the context is the folder holding compose.yaml)
        Assert.Equal(config.Directory, relay.GetProperty("build").GetProperty("context").GetString());

        // 127.0.0.1:3001:3001: reachable from the host's nginx, never from outside.
        var port = Assert.Single(relay.GetProperty("ports").EnumerateArray());
        Assert.Equal("127.0.0.1:3001:3001", PortMapping(port));

        // env_file: .env, merged into the container's environment; the pinned listener wins over .env.
        var environment = relay.GetProperty("environment");
        Assert.Equal("sk-compose-test", environment.GetProperty("OPENAI_API_KEY").GetString());
        Assert.Equal("compose-test-token", environment.GetProperty("RELAY_TOKEN").GetString());
        Assert.Equal("http://upstream.invalid/v1", environment.GetProperty("OPENAI_BASE_URL").GetString());
        Assert.Equal("3001", environment.GetProperty("PORT").GetString());
        Assert.Equal("0.0.0.0", environment.GetProperty("BIND_ADDRESS").GetString());
        Assert.Equal("127.0.0.1,::1,172.30.0.1", environment.GetProperty("RELAY_TRUSTED_PROXIES").GetString());
        // The gateway that Docker's port forwarding connects from is the one RELAY_TRUSTED_PROXIES trusts.
        var network = config.Root.GetProperty("networks").GetProperty("relay");
        Assert.Equal("172.30.0.1", network.GetProperty("ipam").GetProperty("config")[0].GetProperty("gateway").GetString());

        // A graceful stop: longer than the relay's drain, and SIGTERM reaches the relay (tini as PID 1, exec-form entrypoint).
        var grace = Duration(relay.GetProperty("stop_grace_period").GetString()!);
        Assert.True(grace > ShippedDefaults.ShutdownTimeout, $"stop_grace_period {grace} must exceed Relay:ShutdownTimeout {ShippedDefaults.ShutdownTimeout}, or Docker kills the relay mid-drain");
        Assert.True(relay.GetProperty("init").GetBoolean());
        Assert.Equal("unless-stopped", relay.GetProperty("restart").GetString());
    }

    [Fact]
    public async Task Config_WithoutDotEnv_FailsNamingIt()
    {
        var config = await ComposeConfig.RunAsync(dotEnv: null);
        Assert.NotEqual(0, config.ExitCode);
        Assert.Contains(".env", config.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_TrustedProxiesFromDotEnv_OverrideTheDefault()
    {
        var config = await ComposeConfig.RunAsync(DotEnv + "RELAY_TRUSTED_PROXIES=10.9.8.7\n");
        Assert.True(config.ExitCode == 0, config.Errors);
        Assert.Equal("10.9.8.7", config.Relay.GetProperty("environment").GetProperty("RELAY_TRUSTED_PROXIES").GetString());
    }

    /// <summary>
    /// Without the <c>observability</c> profile compose starts the relay alone: every other service is in that profile
    /// (docker-compose 1.29's <c>config</c> prints profiled services too, so the proof is their <c>profiles</c> key), and
    /// the Grafana password is not required, so a .env without it still renders.
    /// </summary>
    [Fact]
    public async Task Config_WithoutTheProfile_StartsTheRelayAlone_AndNeedsNoGrafanaPassword()
    {
        var config = await ComposeConfig.RunAsync(DotEnv);
        Assert.True(config.ExitCode == 0, "docker-compose config failed:\n" + config.Errors);
        Assert.DoesNotContain("GRAFANA_ADMIN_PASSWORD", config.Errors, StringComparison.Ordinal);
        var startedWithoutProfile = config.Root.GetProperty("services").EnumerateObject()
            .Where(s => !s.Value.TryGetProperty("profiles", out var profiles) || profiles.GetArrayLength() == 0)
            .Select(s => s.Name);
        Assert.Equal(["relay"], startedWithoutProfile);
        foreach (var service in config.Root.GetProperty("services").EnumerateObject().Where(s => s.Name != "relay"))
        {
            Assert.Equal(["observability"], service.Value.GetProperty("profiles").EnumerateArray().Select(p => p.GetString()));
        }

        var profiles = await ComposeConfig.RunAsync(DotEnv, "config", "--profiles");
        Assert.True(profiles.ExitCode == 0, profiles.Errors);
        Assert.Equal(["observability"], profiles.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// With the profile, Prometheus and Grafana join the relay's network and publish on 127.0.0.1 only, from pinned
    /// images, mounting the shipped files read-only; the relay still publishes 127.0.0.1:3001 alone, never its metrics
    /// port, even with RELAY_METRICS_PORT in .env.
    /// </summary>
    [Fact]
    public async Task Config_WithTheObservabilityProfile_AddsPrometheusAndGrafanaOnLoopback_AndTheRelayPublishesOnly3001()
    {
        var config = await ComposeConfig.RunAsync(DotEnv + ObservabilityEnv, "--profile", "observability", "config");
        Assert.True(config.ExitCode == 0, "docker-compose --profile observability config failed:\n" + config.Errors);
        var services = config.Root.GetProperty("services");

        Assert.Equal("127.0.0.1:3001:3001", PortMapping(Assert.Single(config.Relay.GetProperty("ports").EnumerateArray())));
        Assert.False(config.Relay.TryGetProperty("expose", out _));
        Assert.Equal("9464", config.Relay.GetProperty("environment").GetProperty("RELAY_METRICS_PORT").GetString());

        foreach (var (name, port, image) in new[] { ("prometheus", "127.0.0.1:9090:9090", "prom/prometheus:v"), ("grafana", "127.0.0.1:3000:3000", "grafana/grafana:") })
        {
            var service = services.GetProperty(name);
            Assert.Equal(port, PortMapping(Assert.Single(service.GetProperty("ports").EnumerateArray())));
            var pinned = service.GetProperty("image").GetString()!;
            Assert.StartsWith(image, pinned, StringComparison.Ordinal);
            Assert.Matches(@"^\d+\.\d+\.\d+$", pinned[image.Length..]);
            Assert.Equal("unless-stopped", service.GetProperty("restart").GetString());
            Assert.True(service.GetProperty("networks").TryGetProperty("relay", out _), name + " is not on the relay network");
            Assert.Equal(["observability"], service.GetProperty("profiles").EnumerateArray().Select(p => p.GetString()));

            // Every file mounted from the repository exists there, read-only.
            foreach (var volume in service.GetProperty("volumes").EnumerateArray().Select(Volume).Where(v => v.Source.StartsWith('/')))
            {
                Assert.True(volume.ReadOnly, $"{name} mounts {volume.Source} writable");
                var shipped = Path.Combine(RepositoryPaths.Root, Path.GetRelativePath(config.Directory, volume.Source));
                Assert.True(File.Exists(shipped) || Directory.Exists(shipped), $"{name} mounts {shipped}, which the repository does not have");
            }
        }

        var prometheusMounts = services.GetProperty("prometheus").GetProperty("volumes").EnumerateArray().Select(Volume).ToArray();
        Assert.Contains(prometheusMounts, v => v.Target == "/etc/prometheus" && v.Source.EndsWith("/deploy/prometheus", StringComparison.Ordinal));
        Assert.Contains(prometheusMounts, v => v.Target == "/prometheus" && v.Source == "prometheus-data");
        var grafanaMounts = services.GetProperty("grafana").GetProperty("volumes").EnumerateArray().Select(Volume).ToArray();
        Assert.Contains(grafanaMounts, v => v.Target == "/etc/grafana/provisioning" && v.Source.EndsWith("/deploy/grafana/provisioning", StringComparison.Ordinal));
        Assert.Contains(grafanaMounts, v => v.Target == "/var/lib/grafana/dashboards/openai-relay.json");

        var grafana = services.GetProperty("grafana").GetProperty("environment");
        Assert.Equal("grafana-admin-canary", grafana.GetProperty("GF_SECURITY_ADMIN_PASSWORD").GetString());
        Assert.Equal("false", grafana.GetProperty("GF_USERS_ALLOW_SIGN_UP").GetString());
        Assert.Equal("false", grafana.GetProperty("GF_ANALYTICS_REPORTING_ENABLED").GetString());
        Assert.Equal("false", grafana.GetProperty("GF_AUTH_ANONYMOUS_ENABLED").GetString());
        // The relay's .env (the OpenAI key among it) is not Grafana's.
        Assert.False(grafana.TryGetProperty("OPENAI_API_KEY", out _));
        Assert.False(services.GetProperty("prometheus").TryGetProperty("env_file", out _));
    }

    /// <summary>
    /// Grafana would create admin/admin from an empty password: its entrypoint, as compose renders it, refuses to start
    /// without one (naming GRAFANA_ADMIN_PASSWORD) and hands over to the image's /run.sh with one.
    /// </summary>
    [Theory]
    [InlineData("", 1)]
    [InlineData("grafana-admin-canary", 0)]
    public async Task GrafanaEntrypoint_StartsOnlyWithAPassword(string password, int exitCode)
    {
        var config = await ComposeConfig.RunAsync(DotEnv, "--profile", "observability", "config");
        Assert.True(config.ExitCode == 0, config.Errors);
        var entrypoint = config.Root.GetProperty("services").GetProperty("grafana").GetProperty("entrypoint").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal("/bin/sh", entrypoint[0]);
        Assert.Contains("exec /run.sh", entrypoint[2], StringComparison.Ordinal);

        // What the container runs: compose's $$ is a literal $; /bin/echo stands in for the image's /run.sh.
        var psi = new System.Diagnostics.ProcessStartInfo(entrypoint[0], [.. entrypoint[1..2], entrypoint[2].Replace("$$", "$", StringComparison.Ordinal).Replace("/run.sh", "/bin/echo started", StringComparison.Ordinal), .. entrypoint[3..]])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["GF_SECURITY_ADMIN_PASSWORD"] = password;
        using var process = System.Diagnostics.Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(exitCode, process.ExitCode);
        if (exitCode == 0)
        {
            Assert.Equal("started\n", output);
        }
        else
        {
            Assert.Contains("set GRAFANA_ADMIN_PASSWORD in .env", errors, StringComparison.Ordinal);
            Assert.Empty(output);
        }
    }

    /// <summary>A volume from v1's "source:target:mode" or v2's long syntax.</summary>
    private static (string Source, string Target, bool ReadOnly) Volume(JsonElement volume)
    {
        if (volume.ValueKind == JsonValueKind.String)
        {
            var parts = volume.GetString()!.Split(':');
            return (parts[0], parts[1], parts.Length > 2 && parts[2].Split(',').Contains("ro"));
        }

        return (volume.GetProperty("source").GetString()!, volume.GetProperty("target").GetString()!, volume.TryGetProperty("read_only", out var ro) && ro.GetBoolean());
    }

    /// <summary>"127.0.0.1:3001:3001" from docker-compose v1's short syntax or v2's long one.</summary>
    private static string PortMapping(JsonElement port) => port.ValueKind == JsonValueKind.String
        ? port.GetString()!.Split('/')[0]
        : $"{port.GetProperty("host_ip").GetString()}:{port.GetProperty("published")}:{port.GetProperty("target")}";

    private static TimeSpan Duration(string value)
    {
        var match = DurationPattern().Match(value);
        Assert.True(match.Success, "unexpected duration " + value);
        var total = TimeSpan.Zero;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var number = double.Parse(part.Value[..^1], CultureInfo.InvariantCulture);
            total += part.Value[^1] switch { 'h' => TimeSpan.FromHours(number), 'm' => TimeSpan.FromMinutes(number), _ => TimeSpan.FromSeconds(number) };
        }

        return total;
    }

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?[hms])+$")]
    private static partial Regex DurationPattern();
}
