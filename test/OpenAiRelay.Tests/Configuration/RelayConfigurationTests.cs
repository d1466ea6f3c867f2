using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Configuration;

/// <summary>Each section bound on its own, through the one assembler the server, the CLI and the health check share.</summary>
public sealed class RelayConfigurationTests
{
    private static ServiceProvider Bind(Dictionary<string, string?> environment, Dictionary<string, string?>? settings = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings ?? [])
            .AddLegacyEnvironmentVariables(name => environment.GetValueOrDefault(name))
            .Build();
        var services = new ServiceCollection().AddRelayOptions(configuration);
        services.AddSingleton<IValidateOptions<RelayOptions>, TokenOptionsValidator>();
        return services.BuildServiceProvider();
    }

    private static T Get<T>(ServiceProvider services)
        where T : class
        => services.GetRequiredService<IOptions<T>>().Value;

    private static IReadOnlyList<string> Failures(ServiceProvider services)
    {
        try
        {
            RelayConfiguration.ValidateServer(services);
            return [];
        }
        catch (RelayConfigurationException e)
        {
            return e.Failures;
        }
    }

    [Fact]
    public void Defaults_MatchTheDeploymentGuide()
    {
        using var services = Bind(new() { ["OPENAI_API_KEY"] = "sk-x" });
        Assert.Equal("https://api.openai.com", Get<UpstreamOptions>(services).BaseUrl);
        Assert.Equal(3001, Get<ListenerOptions>(services).Port);
        Assert.Equal("127.0.0.1", Get<ListenerOptions>(services).BindAddress);
        Assert.Equal(["127.0.0.1", "::1"], Get<ListenerOptions>(services).TrustedProxies);
        Assert.Empty(Get<RelayOptions>(services).Tokens);
        Assert.True(Get<TimeoutOptions>(services).GenerationIdle >= TimeSpan.FromMinutes(10));
        Assert.Empty(Failures(services));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void MissingApiKey_FailsNamingTheVariable(string? key)
    {
        using var services = Bind(new() { ["OPENAI_API_KEY"] = key });
        Assert.Contains(Failures(services), f => f.StartsWith("OPENAI_API_KEY", StringComparison.Ordinal));
    }

    [Fact]
    public void EnvironmentVariables_AreTrimmedAndMapped()
    {
        using var services = Bind(new()
        {
            ["OPENAI_API_KEY"] = "  sk-abc \n",
            ["OPENAI_RELAY_TOKEN"] = "old",
            ["RELAY_TOKEN"] = " a,b ",
            ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1",
            ["PORT"] = "8080",
            ["BIND_ADDRESS"] = "0.0.0.0",
            ["OPENAI_ORGANIZATION"] = "org-1",
            ["OPENAI_PROJECT"] = "proj_1",
            ["RELAY_TRUSTED_PROXIES"] = "10.0.0.0/8, 192.168.1.1",
        });
        var upstream = Get<UpstreamOptions>(services);
        Assert.Equal("sk-abc", upstream.ApiKey);
        Assert.Equal(["a", "b"], Get<RelayOptions>(services).Tokens);
        Assert.Equal("http://127.0.0.1:9/v1", upstream.BaseUrl);
        Assert.Equal(8080, Get<ListenerOptions>(services).Port);
        Assert.Equal("0.0.0.0", Get<ListenerOptions>(services).BindAddress);
        Assert.Equal(["10.0.0.0/8", "192.168.1.1"], Get<ListenerOptions>(services).TrustedProxies);
        Assert.Equal("org-1", upstream.Organization);
        Assert.Equal("proj_1", upstream.Project);
    }

    [Fact]
    public void Lists_AreTypedInConfigurationFiles_AndTheGuidesVariableWins()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Relay:Upstream:ApiKey"] = "k",
            ["Relay:Tokens:0"] = "first",
            ["Relay:Tokens:1"] = "second",
            ["Relay:Listen:TrustedProxies:0"] = "10.1.2.3",
        };
        using (var fromFile = Bind([], settings))
        {
            Assert.Equal(["first", "second"], Get<RelayOptions>(fromFile).Tokens);
            // A list replaces the default; it is not appended to it.
            Assert.Equal(["10.1.2.3"], Get<ListenerOptions>(fromFile).TrustedProxies);
        }

        using var overridden = Bind(new() { ["RELAY_TOKEN"] = "from-env" }, settings);
        Assert.Equal(["from-env"], Get<RelayOptions>(overridden).Tokens);
    }

    [Fact]
    public void EmptyTrustedProxies_BelievesNoOne()
    {
        using var services = Bind([], new() { ["Relay:Upstream:ApiKey"] = "k", ["Relay:Listen:TrustedProxies"] = "" });
        Assert.Empty(Get<ListenerOptions>(services).TrustedProxies);
    }

    [Fact]
    public void OpenAiRelayToken_IsUsedWhenRelayTokenIsAbsent()
    {
        using var services = Bind(new() { ["OPENAI_API_KEY"] = "k", ["OPENAI_RELAY_TOKEN"] = "legacy" });
        Assert.Equal(["legacy"], Get<RelayOptions>(services).Tokens);
    }

    [Theory]
    [InlineData("PORT", "70000", "PORT")]
    [InlineData("BIND_ADDRESS", "everywhere", "BIND_ADDRESS")]
    [InlineData("RELAY_TRUSTED_PROXIES", "10.0.0.0/99", "RELAY_TRUSTED_PROXIES")]
    [InlineData("RELAY_TOKEN", "has space", "RELAY_TOKEN")]
    [InlineData("RELAY_ADMIN_TOKEN", "short", "RELAY_ADMIN_TOKEN")]
    [InlineData("OPENAI_BASE_URL", "ftp://example", "OPENAI_BASE_URL")]
    public void BadValues_FailWithTheVariableName(string variable, string value, string expected)
    {
        using var services = Bind(new() { ["OPENAI_API_KEY"] = "k", [variable] = value });
        Assert.Contains(Failures(services), f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void StalledClient_ZeroTurnsItOff_NegativeIsRefused()
    {
        using var off = Bind(new() { ["OPENAI_API_KEY"] = "k" }, new() { ["Relay:Timeouts:StalledClient"] = "00:00:00" });
        Assert.Equal(TimeSpan.Zero, Get<TimeoutOptions>(off).StalledClient);
        using var negative = Bind(new() { ["OPENAI_API_KEY"] = "k" }, new() { ["Relay:Timeouts:StalledClient"] = "-00:00:01" });
        Assert.Contains(Failures(negative), f => f.Contains("Relay:Timeouts:StalledClient", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryBadSection_IsReportedAtOnce()
    {
        using var services = Bind(new() { ["PORT"] = "70000" }, new() { ["Relay:Storage:QueueCapacity"] = "0", ["Relay:Timeouts:DefaultIdle"] = "00:00:00" });
        var failures = Failures(services);
        Assert.Contains(failures, f => f.StartsWith("OPENAI_API_KEY", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("PORT", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("QueueCapacity", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("DefaultIdle", StringComparison.Ordinal));
    }
}
