using Microsoft.AspNetCore.Http.Features;

namespace OpenAiRelay.Isolation;

/// <summary>Hands the forwarder the client's upgraded stream with its events checked and its creations recorded.</summary>
internal sealed class IsolatedUpgradeFeature(IHttpUpgradeFeature inner, Func<Stream, Stream> isolate) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync() => isolate(await inner.UpgradeAsync());
}
