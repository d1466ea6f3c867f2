using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenAiRelay.Metering;
using OpenAiRelay.Tests.Infrastructure;
using OpenAiRelay.Ledger;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Tests.Metering;

/// <summary>Fail closed: while the ledger cannot write, nothing is forwarded (security.md G3, G4).</summary>
public sealed class LedgerAdmissionTests
{
    [Fact]
    public async Task UnhealthyLedger_Answers503LedgerUnavailable_WithRetryAfter()
    {
        using var directory = new TempDataDirectory();
        var settings = LedgerRelay.BaseSettings();
        settings["Relay:Storage:DataDirectory"] = directory.Path;
        var ledger = new SwitchableLedger();
        await using var relay = await LedgerRelay.StartAsync(settings, configure: builder => builder.Services.AddSingleton<IUsageLedger>(ledger));

        using (var healthy = await relay.SendAsync(HttpMethod.Get, "/v1/models", null))
        {
            Assert.Equal(HttpStatusCode.BadGateway, healthy.StatusCode);
        }

        ledger.IsHealthy = false;
        using var refused = await relay.SendAsync(HttpMethod.Get, "/v1/models", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.True(refused.Headers.Contains("Retry-After"));
        using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("ledger_unavailable", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    private sealed class SwitchableLedger : IUsageLedger
    {
        public bool IsHealthy { get; set; } = true;

        public void Open(UsageRecord inFlight)
        {
        }

        public UsageRecord Settle(UsageRecord final) => final;
    }
}
