using Microsoft.AspNetCore.Http.Features;

namespace OpenAiRelay.Metering;

/// <summary>Hands YARP the client's upgraded stream wrapped so the server-to-client WebSocket frames are metered.</summary>
internal sealed class MeteredUpgradeFeature(IHttpUpgradeFeature inner, WebSocketUsageMeter meter, Action onBudgetSpent) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync() => new ObservedUpgradedStream(await inner.UpgradeAsync(), meter, onBudgetSpent);
}
