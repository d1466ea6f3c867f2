using System.Text;
using FakeOpenAi;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Storage;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>A relay (SQLite ledger) in front of the fake upstream, and the helpers the accounting tests share.</summary>
internal sealed class AccountingHarness : IAsyncDisposable
{
    private AccountingHarness(FakeOpenAiServer fake, RelayServer relay)
    {
        Fake = fake;
        Relay = relay;
        Client = relay.CreateClient();
    }

    public FakeOpenAiServer Fake { get; }

    public RelayServer Relay { get; }

    public HttpClient Client { get; }

    public static async Task<AccountingHarness> StartAsync()
    {
        var fake = await FakeOpenAiServer.StartAsync(new FakeOpenAiOptions { ApiKey = RelayServer.UpstreamKeyCanary });
        var relay = await RelayServer.StartAsync(fake.BaseAddress.ToString());
        return new AccountingHarness(fake, relay);
    }

    /// <summary>Sends a JSON request with a test id; returns the relay's request id, the client's body and what the upstream sent.</summary>
    public async Task<Exchange> SendAsync(HttpMethod method, string path, string? json = null, Action<HttpRequestMessage>? configure = null)
    {
        var id = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        request.Headers.Add("x-test-id", id);
        configure?.Invoke(request);
        using var response = await Client.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
        var requestId = response.Headers.GetValues("x-relay-request-id").Single();
        var seen = await Fake.WaitForEndAsync(r => r.Headers.GetValueOrDefault("x-test-id") == id, TaskTimeouts.Default);
        return new Exchange(requestId, (int)response.StatusCode, response.Content.Headers.ContentEncoding.ToArray(), body, seen);
    }

    public async Task<UsageRecord> SettledAsync(string requestId, Func<UsageRecord, bool>? until = null)
    {
        var store = Relay.Services.GetRequiredService<UsageStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        UsageRecord? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await store.GetAsync(requestId, CancellationToken.None);
            if (last is { Outcome: not UsageOutcome.InFlight } && (until is null || until(last)))
            {
                return last;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no settled ledger row for {requestId} (last: {last})");
        return null!;
    }

    /// <summary>The value of the last <c>"name":N</c> in <paramref name="json"/> (the upstream's usage is at the end).</summary>
    public static long UsageNumber(string json, string name)
    {
        var marker = "\"" + name + "\":";
        var at = json.LastIndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{name} not in {json}");
        at += marker.Length;
        while (json[at] == ' ')
        {
            at++;
        }

        var end = at;
        while (end < json.Length && char.IsAsciiDigit(json[end]))
        {
            end++;
        }

        return long.Parse(json[at..end], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Relay.DisposeAsync();
        await Fake.DisposeAsync();
    }

    internal sealed record Exchange(string RequestId, int Status, string[] ContentEncoding, byte[] Body, RecordedRequest Upstream)
    {
        public string BodyText => Encoding.UTF8.GetString(Body);

        /// <summary>What the upstream sent, decoded when it compressed it.</summary>
        public string UpstreamBodyText => Encoding.UTF8.GetString(Upstream.ResponseBody ?? []);
    }
}
