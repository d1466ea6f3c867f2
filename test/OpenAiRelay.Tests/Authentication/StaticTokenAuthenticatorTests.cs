using Microsoft.Extensions.Options;
using OpenAiRelay.Authentication;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Tests.Authentication;

public sealed class StaticTokenAuthenticatorTests
{
    private static StaticTokenAuthenticator Create(string? tokens)
        => new(Options.Create(new RelayOptions { Tokens = (tokens ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) }));

    [Fact]
    public void EachRotatedToken_IsAcceptedWithItsOwnLabel()
    {
        var authenticator = Create("first, second");
        Assert.True(authenticator.TryAuthenticate("first", out var a));
        Assert.True(authenticator.TryAuthenticate("second", out var b));
        Assert.Equal("relay-token", a.Label);
        Assert.Equal("relay-token-2", b.Label);
        Assert.False(authenticator.IsOpen);
    }

    [Theory]
    [InlineData("firs")]
    [InlineData("first2")]
    [InlineData("FIRST")]
    [InlineData("")]
    public void NearMisses_AreRejected(string candidate)
    {
        Assert.False(Create("first").TryAuthenticate(candidate, out _));
    }

    [Fact]
    public void NoTokens_MeansOpen()
    {
        Assert.True(Create(null).IsOpen);
        Assert.True(Create(" , ").IsOpen);
    }

    [Fact]
    public void LabelsNeverContainTheToken()
    {
        var authenticator = Create("supersecret-token-value");
        Assert.True(authenticator.TryAuthenticate("supersecret-token-value", out var identity));
        Assert.DoesNotContain("supersecret", identity.Label, StringComparison.Ordinal);
    }
}
