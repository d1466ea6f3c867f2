using System.ClientModel;
using OpenAI.Realtime;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Sdk;

#pragma warning disable OPENAI002 // The SDK marks realtime as experimental.

/// <summary>The .NET SDK's realtime session (a WebSocket with the "realtime" subprotocol and a bearer header) through the relay.</summary>
public sealed class DotNetSdkRealtimeTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    [Fact]
    public async Task RealtimeSession_ConnectsAndReceivesAResponse()
    {
        // NOTE: OpenAI 2.15's OpenAIClient.GetRealtimeClient() opens the socket without any Authorization header
        // (seen on the wire), so it cannot authenticate against OpenAI or a relay; a RealtimeClient built with the
        // credential sends it.
        var client = new RealtimeClient(new ApiKeyCredential(RelayServer.ClientToken), new RealtimeClientOptions { Endpoint = fixture.Relay.ApiBase });
        using var session = await client.StartConversationSessionAsync("gpt-realtime").DefaultTimeout();
        await session.StartResponseAsync().DefaultTimeout();
        var sawSession = false;
        var sawDone = false;
        using var cts = new CancellationTokenSource(TaskTimeouts.Default);
        await foreach (var update in session.ReceiveUpdatesAsync(cts.Token))
        {
            sawSession |= update is RealtimeServerUpdateSessionCreated;
            if (update is RealtimeServerUpdateResponseDone)
            {
                sawDone = true;
                break;
            }
        }

        Assert.True(sawSession);
        Assert.True(sawDone);
    }
}
