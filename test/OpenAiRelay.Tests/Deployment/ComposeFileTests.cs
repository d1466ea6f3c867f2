using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OpenAiRelay.Tests.Deployment;

/// <summary><c>compose.yaml</c> as <c>docker-compose config</c> resolves it, beside a .env like the one docs/deploy.md step 3 writes.</summary>
public sealed partial class ComposeFileTests
{
    private const string DotEnv = "OPENAI_API_KEY=sk-compose-test\nRELAY_TOKEN=compose-test-token\n# a comment\nOPENAI_BASE_URL=http://upstream.invalid/v1\n";

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
