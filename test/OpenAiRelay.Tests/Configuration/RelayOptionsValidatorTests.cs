using Microsoft.Extensions.Configuration;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Configuration;

public sealed class RelayOptionsValidatorTests
{
    private static RelayOptions Bind(Dictionary<string, string?> environment)
    {
        var configuration = new ConfigurationBuilder()
            .AddLegacyEnvironmentVariables(name => environment.GetValueOrDefault(name))
            .Build();
        return configuration.GetSection(RelayOptions.SectionName).Get<RelayOptions>() ?? new RelayOptions();
    }

    [Fact]
    public void Defaults_MatchTheDeploymentGuide()
    {
        var options = Bind(new() { ["OPENAI_API_KEY"] = "sk-x" });
        Assert.Equal("https://api.openai.com", options.Upstream.BaseUrl);
        Assert.Equal(3001, options.Listen.Port);
        Assert.Equal("127.0.0.1", options.Listen.BindAddress);
        Assert.True(options.Timeouts.GenerationIdle >= TimeSpan.FromMinutes(10));
        Assert.True(new RelayOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void MissingApiKey_FailsNamingTheVariable(string? key)
    {
        var options = Bind(new() { ["OPENAI_API_KEY"] = key });
        var result = new RelayOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("OPENAI_API_KEY", StringComparison.Ordinal));
    }

    [Fact]
    public void EnvironmentVariables_AreTrimmedAndMapped()
    {
        var options = Bind(new()
        {
            ["OPENAI_API_KEY"] = "  sk-abc \n",
            ["OPENAI_RELAY_TOKEN"] = "old",
            ["RELAY_TOKEN"] = " a,b ",
            ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1",
            ["PORT"] = "8080",
            ["BIND_ADDRESS"] = "0.0.0.0",
            ["OPENAI_ORGANIZATION"] = "org-1",
            ["OPENAI_PROJECT"] = "proj_1",
        });
        Assert.Equal("sk-abc", options.Upstream.ApiKey);
        Assert.Equal("a,b", options.Tokens);
        Assert.Equal("http://127.0.0.1:9/v1", options.Upstream.BaseUrl);
        Assert.Equal(8080, options.Listen.Port);
        Assert.Equal("0.0.0.0", options.Listen.BindAddress);
        Assert.Equal("org-1", options.Upstream.Organization);
        Assert.Equal("proj_1", options.Upstream.Project);
    }

    [Fact]
    public void OpenAiRelayToken_IsUsedWhenRelayTokenIsAbsent()
    {
        Assert.Equal("legacy", Bind(new() { ["OPENAI_API_KEY"] = "k", ["OPENAI_RELAY_TOKEN"] = "legacy" }).Tokens);
    }

    [Theory]
    [InlineData("PORT", "70000", "PORT")]
    [InlineData("BIND_ADDRESS", "everywhere", "BIND_ADDRESS")]
    [InlineData("RELAY_TRUSTED_PROXIES", "10.0.0.0/99", "RELAY_TRUSTED_PROXIES")]
    [InlineData("RELAY_TOKEN", "has space", "RELAY_TOKEN")]
    public void BadValues_FailWithTheVariableName(string variable, string value, string expected)
    {
        var options = Bind(new() { ["OPENAI_API_KEY"] = "k", [variable] = value });
        var result = new RelayOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(expected, StringComparison.Ordinal));
    }
}
