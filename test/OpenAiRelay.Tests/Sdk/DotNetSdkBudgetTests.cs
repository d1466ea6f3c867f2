using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using FakeOpenAi;
using OpenAI;
using OpenAI.Chat;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>
/// The official OpenAI .NET SDK with its default retry policy against a key whose budget is spent: a counting
/// HttpClient handler under the SDK's pipeline records every HTTP attempt, and the fake upstream proves that none of
/// them reached it.
/// </summary>
public sealed class DotNetSdkBudgetTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await SpentBudget.StartFakeAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task DefaultRetryPolicy_RetriesInsufficientQuotaThreeTimes_AndEveryAttemptIsRefusedBeforeTheUpstream()
    {
        await using var relay = await SpentBudget.StartRelayAsync(_fake);
        var spend = Guid.NewGuid().ToString("N");
        var key = await SpentBudget.CreateSpentKeyAsync(relay, spend);

        var test = Guid.NewGuid().ToString("N");
        using var counting = new CountingHandler(test);
        using var http = new HttpClient(counting);
        var chat = new ChatClient(
            "gpt-4o-mini",
            new ApiKeyCredential(key),
            new OpenAIClientOptions { Endpoint = relay.ApiBase, Transport = new HttpClientPipelineTransport(http) });

        var error = await Assert.ThrowsAsync<ClientResultException>(
            () => chat.CompleteChatAsync([new UserChatMessage("hi")]).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(429, error.Status);

        // OpenAI 2.15.0 keeps System.ClientModel 1.16's ClientRetryPolicy.Default, which retries a 429 on its status
        // alone, up to 3 times, and does not read x-should-retry: 1 + 3 = 4 attempts. They come back to back: that
        // instance's initial delay is zero (a `new ClientRetryPolicy()` backs off 0.8, 1.6 and 3.2 s), and there is no
        // Retry-After to go by. The relay refuses every one before it forwards anything, so they cost nothing.
        var attempts = counting.Attempts.ToArray();
        Assert.Equal(4, attempts.Length);
        Assert.All(attempts, attempt =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, attempt.Status);
            Assert.Equal("false", attempt.ShouldRetry);
            Assert.Null(attempt.RetryAfter);
            var body = SpentBudget.Error(attempt.Body);
            Assert.Equal("insufficient_quota", body.GetProperty("code").GetString());
            Assert.Equal("insufficient_quota", body.GetProperty("type").GetString());
        });
        // No exponential backoff: its three steps would take 5.6 s. (Under a loaded test run four back-to-back
        // refusals have taken over 2 s, so the bound sits just below the backoff, not near zero.)
        Assert.InRange(attempts[^1].At - attempts[0].At, TimeSpan.Zero, TimeSpan.FromSeconds(5));

        Assert.Equal(0, SpentBudget.Upstream(_fake, test));
        Assert.Equal(3, SpentBudget.Upstream(_fake, spend));
    }

    /// <summary>Tags each request with the test's id and records what came back for it, and when.</summary>
    private sealed class CountingHandler(string test) : DelegatingHandler(new HttpClientHandler())
    {
        private readonly long _start = Stopwatch.GetTimestamp();

        public ConcurrentQueue<Attempt> Attempts { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Remove("x-test-id");
            request.Headers.Add("x-test-id", test);
            var at = Stopwatch.GetElapsedTime(_start);
            var response = await base.SendAsync(request, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            Attempts.Enqueue(new Attempt(
                response.StatusCode,
                response.Headers.TryGetValues("x-should-retry", out var retry) ? retry.Single() : null,
                response.Headers.RetryAfter?.ToString(),
                await response.Content.ReadAsStringAsync(cancellationToken),
                at));
            return response;
        }
    }

    private sealed record Attempt(HttpStatusCode Status, string? ShouldRetry, string? RetryAfter, string Body, TimeSpan At);
}
