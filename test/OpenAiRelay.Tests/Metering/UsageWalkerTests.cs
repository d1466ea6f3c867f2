using System.Text;
using System.Text.Json;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Tests.Metering;

public sealed class UsageWalkerTests
{
    private static UsageWalker Walk(string json)
    {
        var walker = new UsageWalker();
        walker.BeginEvent();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        Assert.True(walker.Walk(ref reader));
        return walker;
    }

    [Theory]
    // Chat completion (JSON and the final stream chunk), with detail objects.
    [InlineData("""{"id":"x","model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":18,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5,"audio_tokens":0}}}""", 11, 3, 18, 5)]
    // Older chat usage without details.
    [InlineData("""{"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}""", 7, 0, 2, 0)]
    // Responses JSON.
    [InlineData("""{"object":"response","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":6},"total_tokens":26}}""", 10, 4, 16, 6)]
    // Responses stream terminal event: usage under "response".
    [InlineData("""{"type":"response.completed","sequence_number":21,"response":{"id":"resp_1","status":"completed","output":[{"content":[{"text":"usage"}]}],"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":26}}}""", 10, 0, 16, 0)]
    // Realtime response.done: singular input_token_details.
    [InlineData("""{"type":"response.done","response":{"usage":{"total_tokens":253,"input_tokens":132,"output_tokens":121,"input_token_details":{"text_tokens":119,"audio_tokens":13,"cached_tokens":64,"cached_tokens_details":{"text_tokens":64}},"output_token_details":{"text_tokens":30,"audio_tokens":91}}}}""", 132, 64, 121, 0)]
    // Embeddings.
    [InlineData("""{"object":"list","data":[{"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":8,"total_tokens":8}}""", 8, 0, 0, 0)]
    // Transcription done event.
    [InlineData("""{"type":"transcript.text.done","text":"hi","usage":{"input_tokens":14,"input_token_details":{"text_tokens":0,"audio_tokens":14},"output_tokens":45,"total_tokens":59}}""", 14, 0, 45, 0)]
    public void UsageObjects_OfEveryFamily_AreRead(string json, long input, long cached, long output, long reasoning)
    {
        Assert.Equal(new TokenUsage(input, cached, output, reasoning), Walk(json).Usage);
    }

    [Theory]
    [InlineData("""{"metadata":{"usage":{"prompt_tokens":999}},"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":5}"}}]}""")]
    [InlineData("""{"usage":null}""")]
    [InlineData("""{"choices":[{"delta":{"content":"x"}}]}""")]
    public void UsageLookalikes_AreNotUsage(string json) => Assert.Null(Walk(json).Usage);

    [Fact]
    public void ChatChunk_MarksNullUsageAndDeltaText()
    {
        var json = """{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null,"obfuscation":"ab"}""";
        var walker = Walk(json);
        Assert.Equal("Hel", walker.DeltaText.ToString());
        var (start, end) = walker.NullUsageRange!.Value;
        Assert.Equal("\"usage\":null", json[start..end]);
        Assert.False(walker.EmptyChoices);
    }

    [Fact]
    public void UsageOnlyChunk_IsRecognised()
    {
        var walker = Walk("""{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}""");
        Assert.True(walker.EmptyChoices);
        Assert.True(walker.EventHadUsage);
    }

    [Fact]
    public void ResponsesDeltaText_IsCollected()
    {
        Assert.Equal("Hi there", Walk("""{"type":"response.output_text.delta","sequence_number":4,"delta":"Hi there"}""").DeltaText.ToString());
    }

    [Fact]
    public void MalformedJson_NeverThrows()
    {
        var walker = new UsageWalker();
        var reader = new Utf8JsonReader("{\"usage\":{\"prompt_tokens\":1,,}"u8.ToArray());
        Assert.False(walker.Walk(ref reader));
    }

    [Fact]
    public void LoneSurrogateInADelta_IsSkippedAndTheUsageAfterItStillCounts()
    {
        // Models can split an emoji's surrogate pair across two stream deltas; each half alone cannot be a string.
        var walker = Walk("""{"choices":[{"delta":{"content":"\ud83d"}}],"model":"gpt-4o","usage":{"prompt_tokens":4,"completion_tokens":2}}""");
        Assert.Equal(new TokenUsage(4, 0, 2, 0), walker.Usage);
        Assert.Equal("gpt-4o", walker.Model);
    }
}
