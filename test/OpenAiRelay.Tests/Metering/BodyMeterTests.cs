using System.Text;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Tests.Metering;

/// <summary>Meters see bodies in arbitrary pieces: every split must give the same output and the same usage.</summary>
public sealed class BodyMeterTests
{
    private const string ChatStream =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}],\"usage\":null,\"obfuscation\":\"x\"}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n" +
        "data: [DONE]\n\n";

    private const string TrimmedChatStream =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}],\"obfuscation\":\"x\"}\n\n" +
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
        "data: [DONE]\n\n";

    private static (string Output, UsageWalker Walker) Run(string body, bool trim, int seed, bool json = false)
    {
        var walker = new UsageWalker();
        IResponseBodyMeter meter = json ? new JsonBodyMeter(walker) : new SseBodyMeter(walker, trim);
        var bytes = Encoding.UTF8.GetBytes(body);
        var random = new Random(seed);
        var output = new MemoryStream();
        var position = 0;
        while (position < bytes.Length)
        {
            var size = Math.Min(bytes.Length - position, seed == 0 ? 1 : random.Next(1, 64));
            output.Write(meter.OnWrite(bytes.AsMemory(position, size).ToArray()).Span);
            position += size;
        }

        output.Write(meter.OnEnd().Span);
        return (Encoding.UTF8.GetString(output.ToArray()), walker);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(42)]
    public void TrimMode_RemovesTheInjectedUsageWhateverTheSplit(int seed)
    {
        var (output, walker) = Run(ChatStream, trim: true, seed);
        Assert.Equal(TrimmedChatStream, output);
        Assert.Equal(new TokenUsage(9, 0, 2, 0), walker.Usage);
        Assert.Equal("Hello", walker.DeltaText.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void ObserveMode_PassesEveryByteAndStillMeters(int seed)
    {
        var (output, walker) = Run(ChatStream.Replace("\n", "\r\n", StringComparison.Ordinal), trim: false, seed);
        Assert.Equal(ChatStream.Replace("\n", "\r\n", StringComparison.Ordinal), output);
        Assert.Equal(new TokenUsage(9, 0, 2, 0), walker.Usage);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(99)]
    public void JsonBody_UsageIsReadAcrossSplits(int seed)
    {
        var body = "{\n  \"id\": \"chatcmpl-1\",\n  \"object\": \"chat.completion\",\n  \"model\": \"gpt-4o-mini\",\n  \"choices\": [{\"message\": {\"content\": \"" + new string('a', 5000) + "\"}}],\n  \"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 34, \"total_tokens\": 46, \"prompt_tokens_details\": {\"cached_tokens\": 2}}\n}\n";
        var (output, walker) = Run(body, trim: false, seed, json: true);
        Assert.Equal(body, output);
        Assert.Equal(new TokenUsage(12, 2, 34, 0), walker.Usage);
        Assert.Equal("gpt-4o-mini", walker.Model);
    }

    [Fact]
    public void TrimMode_FinalEventWithoutBlankLine_IsReleasedAtTheEnd()
    {
        var (output, _) = Run("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]", trim: true, seed: 3);
        Assert.Equal("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]", output);
    }

    /// <summary>A Responses stream whose <c>response.completed</c> carries a base64 image: the event is megabytes long.</summary>
    private static string LongResponsesStream(int imageBytes, string newline = "\n")
    {
        var image = new string('A', imageBytes);
        return string.Join(newline + newline,
            "event: response.created" + newline + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}",
            "event: response.completed" + newline + "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"model\":\"gpt-image-1\","
                + "\"output\":[{\"type\":\"image_generation_call\",\"result\":\"" + image + "\"}],"
                + "\"usage\":{\"input_tokens\":50,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":4160,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":4210}}}",
            string.Empty);
    }

    [Theory]
    [InlineData(false, 1, "\n")]
    [InlineData(false, 2, "\r\n")]
    [InlineData(true, 3, "\n")]
    [InlineData(true, 4, "\r\n")]
    public void ALongEvent_IsReadAsItStreams_NeverHeld_AndItsUsageCounts(bool trim, int seed, string newline)
    {
        var body = Encoding.UTF8.GetBytes(LongResponsesStream(8 * 1024 * 1024, newline));
        var walker = new UsageWalker();
        var meter = new SseBodyMeter(walker, trim);
        var random = new Random(seed);
        var output = new MemoryStream();
        for (var position = 0; position < body.Length;)
        {
            var size = Math.Min(body.Length - position, random.Next(1, 16 * 1024));
            output.Write(meter.OnWrite(body.AsMemory(position, size).ToArray()).Span);
            Assert.True(meter.HeldBytes <= SseBodyMeter.MaxHeldBytes + (16 * 1024), $"holding {meter.HeldBytes} bytes");
            position += size;
        }

        output.Write(meter.OnEnd().Span);
        Assert.Equal(body, output.ToArray());
        Assert.Equal(new TokenUsage(50, 0, 4160, 0), walker.Usage);
        Assert.Equal("resp_1", walker.ResponseId);
        Assert.Equal("completed", walker.ResponseStatus);
        Assert.False(walker.UsageRejected);
    }

    [Fact]
    public void TrimMode_StillCutsTheUsageChunk_AfterALongEvent()
    {
        var longDelta = new string('x', 200 * 1024);
        var stream = ChatStream.Replace("\"content\":\"Hello\"", "\"content\":\"" + longDelta + "\"", StringComparison.Ordinal);
        var (output, walker) = Run(stream, trim: true, seed: 5);
        Assert.Equal(new TokenUsage(9, 0, 2, 0), walker.Usage);
        // The long chunk passed as it came (its "usage":null kept); the usage-only chunk after it is still cut.
        Assert.Contains("\"usage\":null,\"obfuscation\"", output, StringComparison.Ordinal);
        Assert.DoesNotContain("prompt_tokens", output, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", output, StringComparison.Ordinal);
    }
}
