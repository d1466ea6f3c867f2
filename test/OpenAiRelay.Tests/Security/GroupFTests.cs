using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// security.md matrix, group F: client disconnects. F1, F2 and F4 (client close) are proven by CancellationTests,
/// LedgerExactnessTests and WebSocketTests; F4's budget and idle parts do not apply yet (docs/threat-model.md).
/// </summary>
public sealed class GroupFTests(SecurityFixture fixture) : IClassFixture<SecurityFixture>
{
    [Fact]
    public async Task F3_ClientLeavesANonStreamGeneration_UpstreamCancelledWithin2sAndRowEstimated()
    {
        var check = fixture.Check();
        var id = Guid.NewGuid().ToString("N");
        using var client = fixture.Relay.CreateClient(fixture.ClientKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"write a long essay about the sea"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-delay-ms", "20000");
        request.Headers.Add("x-test-id", id);
        using var cts = new CancellationTokenSource();
        var sending = client.SendAsync(request, cts.Token);
        await fixture.Fake.WaitForRequestAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        await Task.Delay(500);
        var left = DateTimeOffset.UtcNow;
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);

        var ended = await fixture.Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        Assert.True(ended.Aborted);
        Assert.True(ended.EndedAt - left < TimeSpan.FromSeconds(2), $"upstream ran on for {ended.EndedAt - left}");

        // The client never saw x-relay-request-id: this class's relay has only this test, so its newest row is ours.
        var store = fixture.Relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        UsageRecord? row = null;
        while (row is not { Outcome: not UsageOutcome.InFlight } && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            row = await LastRowAsync(store);
        }

        Assert.NotNull(row);
        Assert.Equal(UsageOutcome.ClientCancelled, row.Outcome);
        Assert.True(row.Estimated);
        Assert.True(row.InputTokens > 0, "a cancelled generation is never a silent zero");
        await check.AssertAllAsync();
    }

    private static async Task<UsageRecord?> LastRowAsync(UsageStore store)
    {
        await using var connection = await store.Database.OpenAsync(CancellationToken.None);
        using var command = store.Database.Command(connection, "SELECT request_id FROM usage_records ORDER BY started_at DESC LIMIT 1;");
        var id = (string?)await command.ExecuteScalarAsync();
        return id is null ? null : await store.GetAsync(id, CancellationToken.None);
    }
}
