using FakeOpenAi;
using OpenAiRelay.Tests.Infrastructure;
using static OpenAiRelay.Tests.Limits.KeyLimitsTests;

namespace OpenAiRelay.Tests.Sdk;

/// <summary>
/// The official Node SDK (<c>openai</c> from npm, default retries) against a spent budget and, for contrast, a rate
/// limit: <c>test/node-sdk/budget.test.mjs</c> counts its HTTP attempts, and the fake upstream proves that none of
/// them reached it.
/// </summary>
public sealed class NodeSdkBudgetTests : IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await SpentBudget.StartFakeAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    [Fact]
    public async Task NodeSdk_DoesNotRetryInsufficientQuota_RetriesARateLimit_AndTheUpstreamSeesNeither()
    {
        await using var relay = await SpentBudget.StartRelayAsync(_fake);
        var spend = Guid.NewGuid().ToString("N");
        var spent = await SpentBudget.CreateSpentKeyAsync(relay, spend);

        // The contrast: rpm 1 would answer Retry-After: 60, which the SDK would wait out. A key with max_concurrent 1
        // whose one slot a slow request holds answers Retry-After: 1 instead, for as long as it is held.
        var (limited, _) = await CreateKeyAsync(relay, new { name = "one-slot", max_concurrent = 1 });
        var hold = Guid.NewGuid().ToString("N");
        using var cancel = new CancellationTokenSource();
        using var holder = relay.CreateClient(limited);
        using var slow = Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", hold);
        slow.Headers.Add("x-fake-delay-ms", "60000");
        var held = holder.SendAsync(slow, cancel.Token);
        await WaitUntilAsync(() => SpentBudget.Upstream(_fake, hold) == 1);

        var test = Guid.NewGuid().ToString("N");
        var (exitCode, log) = await NodeSuite.RunAsync(
            "budget.test.mjs",
            new Dictionary<string, string>
            {
                ["OPENAI_BASE_URL"] = relay.ApiBase.ToString(),
                ["OPENAI_API_KEY"] = spent,
                ["RELAY_RATE_LIMITED_KEY"] = limited,
                ["RELAY_TEST_ID"] = test,
            },
            TimeSpan.FromMinutes(2));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);

        Assert.True(exitCode == 0, "node --test failed:\n" + log);
        Assert.Contains("# pass 2", log, StringComparison.Ordinal);
        Assert.Contains("# budget attempts: 1", log, StringComparison.Ordinal);
        Assert.Contains("# rate-limit attempts: 3", log, StringComparison.Ordinal);

        // Every attempt of both was refused at the relay: the upstream saw the three that spent the budget and the
        // one that held the slot, nothing from Node.
        Assert.Equal(0, SpentBudget.Upstream(_fake, test));
        Assert.Equal(3, SpentBudget.Upstream(_fake, spend));
        Assert.Equal(1, SpentBudget.Upstream(_fake, hold));
    }
}
