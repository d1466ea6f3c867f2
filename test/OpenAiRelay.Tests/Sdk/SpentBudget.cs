using System.Net;
using System.Text.Json;
using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>
/// A relay with an admin token in front of the fake upstream, and a key whose budget is spent through it: what the
/// SDK budget tests point the official clients at.
/// </summary>
internal static class SpentBudget
{
    /// <summary>1,000 input and 1,000 output tokens of gpt-4o-mini: 750 micro-dollars.</summary>
    private const string ThousandEach = """{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}""";

    public static Task<FakeOpenAiServer> StartFakeAsync() =>
        FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary, StreamEventInterval = TimeSpan.Zero });

    public static Task<RelayServer> StartRelayAsync(FakeOpenAiServer fake) =>
        RelayServer.StartAsync(fake.BaseAddress.ToString(), new Dictionary<string, string?> { ["Relay:AdminToken"] = AdminToken });

    /// <summary>
    /// Creates a $0.002 key and spends it with three chat completions of 750 micro-dollars each (sent under
    /// <paramref name="test"/>), then checks that a fourth is refused with 429 insufficient_quota.
    /// </summary>
    public static async Task<string> CreateSpentKeyAsync(RelayServer relay, string test)
    {
        var (key, _) = await CreateKeyAsync(relay, new { name = "spent-" + test[..8], budget_usd = 0.002m });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(relay, key, SpendingChat(test)));
        }

        using var client = relay.CreateClient(key);
        using var refused = await client.SendAsync(SpendingChat(test)).DefaultTimeout();
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("insufficient_quota", (await ErrorAsync(refused)).GetProperty("code").GetString());
        Assert.Equal("false", Header(refused, "x-should-retry"));
        return key;
    }

    /// <summary>The requests under <paramref name="test"/> that reached the upstream.</summary>
    public static int Upstream(FakeOpenAiServer fake, string test) =>
        fake.Requests.Count(r => r.Headers.GetValueOrDefault("x-test-id") == test);

    /// <summary>The error object of an OpenAI-shaped error body.</summary>
    public static JsonElement Error(string body) => JsonDocument.Parse(body).RootElement.GetProperty("error").Clone();

    private static HttpRequestMessage SpendingChat(string test)
    {
        var request = Post("v1/chat/completions", """{"model":"gpt-4o-mini","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}""", test);
        request.Headers.Add("x-fake-usage", ThousandEach);
        return request;
    }
}
