using Microsoft.AspNetCore.Http;
using OpenAiRelay.Authentication;

namespace OpenAiRelay.Tests.Authentication;

public sealed class BearerTokenTests
{
    [Theory]
    [InlineData("Bearer abc", "abc")]
    [InlineData("bearer abc", "abc")]
    [InlineData("BEARER rk_live_x_y", "rk_live_x_y")]
    public void WellFormedHeader_YieldsTheToken(string header, string expected)
    {
        Assert.True(BearerToken.TryParseAuthorization(header, out var token));
        Assert.Equal(expected, token.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer  abc")]
    [InlineData("Basic YWxhZGRpbjpvcGVuc2VzYW1l")]
    [InlineData("Bearer abc def")]
    [InlineData("Bearer abc\0")]
    [InlineData("Bearer ' OR '1'='1")]
    [InlineData("Bearer 😀")]
    public void MalformedHeader_IsRejected(string? header)
    {
        Assert.False(BearerToken.TryParseAuthorization(header, out _));
    }

    [Fact]
    public void OversizedToken_IsRejectedBeforeHashing()
    {
        Assert.False(BearerToken.TryParseAuthorization("Bearer " + new string('a', BearerToken.MaxLength + 1), out _));
        Assert.True(BearerToken.TryParseAuthorization("Bearer " + new string('a', BearerToken.MaxLength), out _));
    }

    [Fact]
    public void BrowserWebSocket_TokenComesFromTheSubprotocol()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.SecWebSocketProtocol = "realtime, openai-insecure-api-key.tok123, openai-beta.realtime-v1";
        Assert.True(BearerToken.TryRead(context.Request, out var token));
        Assert.Equal("tok123", token.ToString());
    }

    [Fact]
    public void AuthorizationHeader_WinsOverSubprotocol_AndTwoHeadersAreRejected()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = new Microsoft.Extensions.Primitives.StringValues(["Bearer a", "Bearer b"]);
        context.Request.Headers.SecWebSocketProtocol = "openai-insecure-api-key.c";
        Assert.False(BearerToken.TryRead(context.Request, out _));
    }
}
