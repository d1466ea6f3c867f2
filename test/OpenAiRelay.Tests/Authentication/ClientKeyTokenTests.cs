using OpenAiRelay.Authentication;

namespace OpenAiRelay.Tests.Authentication;

public sealed class ClientKeyTokenTests
{
    [Fact]
    public void Generate_HasTheDocumentedShape()
    {
        var (keyId, token) = ClientKeyToken.Generate();
        Assert.Matches("^rk_live_[0-9A-Za-z]{10}_[0-9A-Za-z]{40}$", token);
        Assert.True(ClientKeyToken.TryParse(token, out var parsed));
        Assert.Equal(keyId, parsed.ToString());
        Assert.NotEqual(token, ClientKeyToken.Generate().Token);
    }

    public static TheoryData<string> Malformed => new()
    {
        "",
        "' OR '1'='1",
        "%",
        "\0",
        new string('a', 64 * 1024),
        "rk_live_😀😀😀😀😀_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "rk_live_AbCdEfGh12_" + new string('a', 39),
        "rk_live_AbCdEfGh12_" + new string('a', 41),
        "rk_test_AbCdEfGh12_" + new string('a', 40),
        "rk_live_AbCdEfGh12-" + new string('a', 40),
        "rk_live_AbCd'fGh12_" + new string('a', 40),
        "rk_live_AbCdEfGh12_" + new string('a', 39) + "%",
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedToken_IsNotAKey(string token) => Assert.False(ClientKeyToken.TryParse(token, out _));
}
