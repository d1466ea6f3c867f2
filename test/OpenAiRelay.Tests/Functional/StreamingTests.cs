using System.Net;
using System.Text;
using System.Text.Json;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Functional;

public sealed class StreamingTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    private static HttpRequestMessage ChatStream(bool includeUsage, int events, int intervalMs)
    {
        var body = includeUsage
            ? """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count"}]}"""
            : """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}]}""";
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-fake-events", events.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("x-fake-event-interval-ms", intervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return request;
    }

    [Fact]
    public async Task ChatStream_EventsArriveSpacedAsEmitted_NotInABurst()
    {
        const int Events = 6;
        const int IntervalMs = 300;
        using var client = fixture.Relay.CreateClient();
        using var response = await client.SendAsync(ChatStream(includeUsage: false, Events, IntervalMs), HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout();

        var deltas = events.Where(e => e.Text.Contains("\"content\"", StringComparison.Ordinal)).ToList();
        Assert.True(deltas.Count >= Events, $"expected {Events} content events, got {deltas.Count}");
        // Buffering would deliver everything at once at the end. Spaced delivery shows as gaps between consecutive
        // events close to the upstream's interval (loose bounds: the machine is shared and noisy).
        var gaps = deltas.Zip(deltas.Skip(1), (a, b) => (b.ArrivedAt - a.ArrivedAt).TotalMilliseconds).ToList();
        Assert.True(gaps.Count(g => g >= IntervalMs * 0.5) >= gaps.Count - 1, "events arrived in a burst: gaps " + string.Join(", ", gaps.Select(g => g.ToString("F0", System.Globalization.CultureInfo.InvariantCulture))));
        Assert.True((deltas[^1].ArrivedAt - deltas[0].ArrivedAt).TotalMilliseconds >= (Events - 1) * IntervalMs * 0.6);
        Assert.Equal("data: [DONE]", events[^1].Text);
    }

    [Fact]
    public async Task EventStream_CarriesNoBufferingHintAndNoLength_AndIsNotCompressed()
    {
        using var client = fixture.Relay.CreateClient();
        using var request = ChatStream(includeUsage: true, 3, 10);
        request.Headers.AcceptEncoding.ParseAdd("gzip, br");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        Assert.Null(response.Content.Headers.ContentLength);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        var events = await SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout();
        var usageEvent = events.Single(e => e.Text.Contains("\"choices\":[]", StringComparison.Ordinal));
        Assert.Contains("\"prompt_tokens\"", usageEvent.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("v1/responses", """{"model":"gpt-4o-mini","stream":true,"input":"hi"}""")]
    [InlineData("v1/responses", """{"model":"gpt-4o-mini","input":"hi"}""")]
    [InlineData("v1/completions", """{"model":"gpt-3.5-turbo-instruct","stream":true,"stream_options":{"include_usage":true},"prompt":"hi"}""")]
    [InlineData("v1/embeddings", """{"model":"text-embedding-3-small","input":["a","b"]}""")]
    [InlineData("v1/audio/speech", """{"model":"gpt-4o-mini-tts","voice":"alloy","input":"hello"}""")]
    [InlineData("v1/images/generations", """{"model":"gpt-image-1","prompt":"a cat"}""")]
    [InlineData("v1/models", null)]
    public async Task ClientReceives_ExactlyTheBytesTheUpstreamSent(string path, string? json)
    {
        using var client = fixture.Relay.CreateClient();
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(json is null ? HttpMethod.Get : HttpMethod.Post, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        request.Headers.Add("x-test-id", id);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var received = await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
        var seen = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(received.Length > 0);
        Assert.Equal(seen.ResponseBodyLength, received.Length);
        Assert.Equal(seen.ResponseBodySha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(received)));
        if (json is not null)
        {
            Assert.Equal(Encoding.UTF8.GetBytes(json), seen.Body);
        }
    }

    [Fact]
    public async Task ResponsesStream_NamedEventsPassThroughInOrder()
    {
        using var client = fixture.Relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"input":"hi"}""", Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var events = await SseReader.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout();
        Assert.StartsWith("event: response.created", events[0].Text, StringComparison.Ordinal);
        Assert.StartsWith("event: response.completed", events[^1].Text, StringComparison.Ordinal);
        var sequence = events.Select(e => JsonDocument.Parse(e.Text[(e.Text.IndexOf("data: ", StringComparison.Ordinal) + 6)..]).RootElement.GetProperty("sequence_number").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, events.Count), sequence);
    }
}
