using System.Collections.Concurrent;
using System.Net;
using System.Text;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Pipeline;
using OpenAiRelay.Storage;
using OpenAiRelay.Telemetry;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Pipeline;

/// <summary>
/// Observers (the request log; metrics next) subscribe to the settled request record: one record per /v1 request,
/// however it ended, carrying the very ledger row the metering stage settled, and never a secret.
/// </summary>
public sealed class RequestRecordTests : IAsyncLifetime
{
    private readonly RecordingObserver _observer = new();
    private FakeOpenAiServer _fake = null!;
    private RelayServer _relay = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });
        _relay = await RelayServer.StartAsync(_fake.BaseAddress.ToString(), services: s => s.AddSingleton<IRelayRequestObserver>(_observer));
    }

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [Fact]
    public async Task AMeteredRequest_IsRecordedOnce_WithTheRowTheLedgerHolds()
    {
        using var client = _relay.CreateClient();
        using var response = await client.PostAsync(
            "v1/chat/completions",
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync();
        var requestId = response.Headers.GetValues(RelayHeaders.RequestId).Single();

        var record = await _observer.WaitAsync(requestId);
        Assert.Equal(RequestOutcome.Completed, record.Outcome);
        Assert.Equal(200, record.StatusCode);
        Assert.Equal("relay-token", record.ClientLabel);
        Assert.NotNull(record.UpstreamRequestId);
        Assert.True(record.BytesIn > 0 && record.BytesOut > 0);
        Assert.NotNull(record.Usage);
        Assert.False(record.Usage.Estimated);
        Assert.True(record.Usage.InputTokens > 0 && record.Usage.OutputTokens > 0);

        var stored = await SettledAsync(requestId);
        Assert.Equal(stored.InputTokens, record.Usage.InputTokens);
        Assert.Equal(stored.OutputTokens, record.Usage.OutputTokens);
        Assert.Equal(stored.BytesOut, record.BytesOut);
        Assert.Equal(stored.UpstreamRequestId, record.UpstreamRequestId);
        Assert.Single(_observer.Records, r => r.RequestId == requestId);
    }

    [Theory]
    [InlineData("v1/models", "wrong-token", HttpStatusCode.Unauthorized)]
    [InlineData("v1/chat//completions", RelayServer.ClientToken, HttpStatusCode.BadRequest)]
    public async Task ARefusedRequest_IsRecordedAsRejected_WithoutARow(string path, string token, HttpStatusCode status)
    {
        using var client = _relay.CreateClient(token);
        using var response = await client.GetAsync(path).DefaultTimeout();
        Assert.Equal(status, response.StatusCode);
        var requestId = response.Headers.GetValues(RelayHeaders.RequestId).Single();

        var record = await _observer.WaitAsync(requestId);
        Assert.Equal(RequestOutcome.Rejected, record.Outcome);
        Assert.Equal((int)status, record.StatusCode);
        Assert.Null(record.Usage);
        Assert.Null(await _relay.Services.GetRequiredService<UsageStore>().GetAsync(requestId, CancellationToken.None));
        Assert.DoesNotContain(_observer.Records, r => r.ToString().Contains(token, StringComparison.Ordinal) && token != RelayServer.ClientToken);
    }

    [Fact]
    public async Task TheClientLeavingMidStream_IsRecordedAsCancelled_AndSettledSo()
    {
        using var client = _relay.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-fake-stall-after", "2");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        var requestId = response.Headers.GetValues(RelayHeaders.RequestId).Single();
        await using (var body = await response.Content.ReadAsStreamAsync())
        {
            Assert.True(await body.ReadAsync(new byte[64]) > 0);
        }

        response.Dispose();
        var record = await _observer.WaitAsync(requestId);
        Assert.Equal(RequestOutcome.ClientCancelled, record.Outcome);
        Assert.Equal(UsageOutcome.ClientCancelled, record.Usage!.Outcome);
        Assert.Equal(UsageOutcome.ClientCancelled, (await SettledAsync(requestId)).Outcome);
    }

    private async Task<UsageRecord> SettledAsync(string requestId)
    {
        var store = _relay.Services.GetRequiredService<UsageStore>();
        for (var i = 0; i < 200; i++)
        {
            if (await store.GetAsync(requestId, CancellationToken.None) is { Outcome: not UsageOutcome.InFlight } row)
            {
                return row;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("row not settled: " + requestId);
    }

    private sealed class RecordingObserver : IRelayRequestObserver
    {
        public ConcurrentQueue<RelayRequestRecord> Records { get; } = new();

        public void OnRequestFinished(RelayRequestRecord record) => Records.Enqueue(record);

        public async Task<RelayRequestRecord> WaitAsync(string requestId)
        {
            for (var i = 0; i < 200; i++)
            {
                if (Records.FirstOrDefault(r => r.RequestId == requestId) is { } record)
                {
                    return record;
                }

                await Task.Delay(25);
            }

            throw new TimeoutException("no record for " + requestId);
        }
    }
}
