using System.Text;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Tests.Metering;

public sealed class TokenEstimatorTests
{
    [Fact]
    public void HelloWorld_IsTwoTokensInO200k()
        => Assert.Equal(2, TokenEstimator.CountText("hello world"));

    [Fact]
    public void Cl100kFamily_UsesItsOwnVocabulary()
    {
        // Both vocabularies split this differently; what matters is that the legacy model does not use o200k.
        const string Text = "Tokenization differs: 日本語のテキスト and some_snake_case_identifiers.";
        Assert.NotEqual(TokenEstimator.CountText(Text, "gpt-4o"), TokenEstimator.CountText(Text, "gpt-4-0613"));
    }

    [Fact]
    public void ChatBody_CountsMessageTextPlusFraming()
    {
        var body = """
            {"model":"gpt-4o","messages":[
              {"role":"system","content":"hello world"},
              {"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAAAAAAAAAAAAAAAAAA"}}]}
            ],"max_tokens":5}
            """;
        var expected = (2 * TokenEstimator.CountText("hello world")) + (2 * TokenEstimator.TokensPerMessage) + TokenEstimator.ReplyPriming;
        Assert.Equal(expected, TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes(body)));
    }

    [Fact]
    public void EmbeddingsAndResponsesBodies_CountInputText()
    {
        Assert.Equal(4, TokenEstimator.EstimatePromptTokens("""{"model":"text-embedding-3-small","input":["hello world","hello world"]}"""u8, "gpt-4o"));
        var responses = """{"model":"gpt-5","instructions":"hello world","input":"hello world"}"""u8;
        Assert.Equal(4, TokenEstimator.EstimatePromptTokens(responses));
    }

    [Fact]
    public void EscapedText_IsCountedUnescaped()
        => Assert.Equal(TokenEstimator.CountText("hello \"world\""), TokenEstimator.EstimatePromptTokens("""{"prompt":"hello \"world\""}"""u8));

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"messages\":[{\"content\":\"hello world\"")]
    [InlineData("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")]
    public void BadJson_NeverThrows(string body)
    {
        var count = TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes(body));
        Assert.InRange(count, 0, 100);
    }

    [Fact]
    public void TruncatedBody_CountsWhatWasRead()
        => Assert.True(TokenEstimator.EstimatePromptTokens("{\"messages\":[{\"content\":\"hello world\"},{\"content\":\"hel"u8) >= 2);
}
