using System.Text.Json;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>
/// A generation is billed once: reads of the stored object it left (which carry its usage) bill nothing, and a
/// background response is billed by the first read that shows its final status, with the final usage, never as a
/// zero and never twice.
/// </summary>
public sealed class RetrievalBillingTests : IAsyncLifetime
{
    private AccountingHarness _h = null!;

    public async Task InitializeAsync() => _h = await AccountingHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static string Id(AccountingHarness.Exchange x) => JsonDocument.Parse(x.Body).RootElement.GetProperty("id").GetString()!;

    [Fact]
    public async Task StoredResponse_RetrievedThreeTimes_IsBilledOnce()
    {
        var created = await _h.SendAsync(HttpMethod.Post, "v1/responses", """{"model":"gpt-4o-mini","input":"hello"}""");
        var id = Id(created);
        var generation = await _h.SettledAsync(created.RequestId);
        Assert.True(generation.InputTokens > 0);

        var reads = new List<AccountingHarness.Exchange>();
        for (var i = 0; i < 3; i++)
        {
            reads.Add(await _h.SendAsync(HttpMethod.Get, $"v1/responses/{id}", configure: r => r.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip")));
        }

        reads.Add(await _h.SendAsync(HttpMethod.Get, $"v1/responses/{id}/input_items"));
        foreach (var read in reads)
        {
            Assert.Equal(200, read.Status);
            var row = await _h.SettledAsync(read.RequestId);
            Assert.Equal((0L, 0L, false), (row.InputTokens, row.OutputTokens, row.Estimated));
        }

        Assert.Contains("\"usage\"", reads[0].BodyText, StringComparison.Ordinal);
        Assert.Equal(generation, await _h.SettledAsync(created.RequestId));
    }

    [Fact]
    public async Task StoredChatCompletion_Retrieved_IsNotBilledAgain()
    {
        var created = await _h.SendAsync(HttpMethod.Post, "v1/chat/completions", """{"model":"gpt-4o-mini","store":true,"messages":[{"role":"user","content":"hi"}]}""");
        var id = Id(created);
        var generation = await _h.SettledAsync(created.RequestId);
        Assert.True(generation.OutputTokens > 0);

        var read = await _h.SendAsync(HttpMethod.Get, $"v1/chat/completions/{id}");
        Assert.Equal(200, read.Status);
        Assert.Contains("\"usage\"", read.BodyText, StringComparison.Ordinal);
        var row = await _h.SettledAsync(read.RequestId);
        Assert.Equal((0L, 0L, false), (row.InputTokens, row.OutputTokens, row.Estimated));
    }

    [Fact]
    public async Task BackgroundResponse_PolledToCompletion_IsBilledOnceWithTheFinalUsage()
    {
        var created = await _h.SendAsync(HttpMethod.Post, "v1/responses", """{"model":"gpt-4o-mini","background":true,"input":"hello"}""",
            r => r.Headers.Add("x-fake-background-polls", "2"));
        var id = Id(created);
        var waiting = await _h.SettledAsync(created.RequestId);
        Assert.Equal(UsageOutcome.Background, waiting.Outcome);
        Assert.Equal(id, waiting.ResponseId);
        Assert.Equal(0, waiting.InputTokens);

        AccountingHarness.Exchange? final = null;
        for (var i = 0; i < 5; i++)
        {
            var poll = await _h.SendAsync(HttpMethod.Get, $"v1/responses/{id}");
            var pollRow = await _h.SettledAsync(poll.RequestId);
            Assert.Equal((0L, 0L), (pollRow.InputTokens, pollRow.OutputTokens));
            if (JsonDocument.Parse(poll.Body).RootElement.GetProperty("status").GetString() == "completed")
            {
                final ??= poll;
            }
        }

        Assert.NotNull(final);
        var settled = await _h.SettledAsync(created.RequestId, r => r.Outcome != UsageOutcome.Background);
        Assert.Equal(UsageOutcome.Completed, settled.Outcome);
        Assert.False(settled.Estimated);
        Assert.Equal(AccountingHarness.UsageNumber(final.BodyText, "input_tokens"), settled.InputTokens);
        Assert.Equal(AccountingHarness.UsageNumber(final.BodyText, "output_tokens"), settled.OutputTokens);
        Assert.True(settled.OutputTokens > 0);
        Assert.NotNull(settled.CostMicros);
    }

    [Fact]
    public async Task BackgroundResponse_Cancelled_IsBilledForWhatTheCancelReports()
    {
        var created = await _h.SendAsync(HttpMethod.Post, "v1/responses", """{"model":"gpt-4o-mini","background":true,"input":"hello"}""",
            r => r.Headers.Add("x-fake-background-polls", "5"));
        var id = Id(created);
        Assert.Equal(UsageOutcome.Background, (await _h.SettledAsync(created.RequestId)).Outcome);

        var cancel = await _h.SendAsync(HttpMethod.Post, $"v1/responses/{id}/cancel", "{}");
        Assert.Equal(200, cancel.Status);
        var settled = await _h.SettledAsync(created.RequestId, r => r.Outcome != UsageOutcome.Background);
        Assert.Equal(UsageOutcome.ClientCancelled, settled.Outcome);
        Assert.Equal(AccountingHarness.UsageNumber(cancel.BodyText, "input_tokens"), settled.InputTokens);

        // A second cancel (or read) of the settled response changes nothing.
        await _h.SendAsync(HttpMethod.Post, $"v1/responses/{id}/cancel", "{}");
        await _h.SendAsync(HttpMethod.Get, $"v1/responses/{id}");
        await Task.Delay(200);
        Assert.Equal(settled, await _h.SettledAsync(created.RequestId));
    }

    [Fact]
    public async Task Batch_Retrieved_IsNotBilled()
    {
        var created = await _h.SendAsync(HttpMethod.Post, "v1/batches", """{"input_file_id":"file-abc","endpoint":"/v1/chat/completions","completion_window":"24h"}""");
        var id = Id(created);
        var read = await _h.SendAsync(HttpMethod.Get, $"v1/batches/{id}");
        Assert.Contains("\"usage\"", read.BodyText, StringComparison.Ordinal);
        foreach (var x in new[] { created, read })
        {
            var row = await _h.SettledAsync(x.RequestId);
            Assert.Equal((0L, 0L, false), (row.InputTokens, row.OutputTokens, row.Estimated));
        }
    }
}
