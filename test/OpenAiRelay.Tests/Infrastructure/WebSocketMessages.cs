using System.Net.WebSockets;
using System.Text.Json;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>Reading whole Realtime messages (they may arrive in several frames) from a client WebSocket.</summary>
public static class WebSocketMessages
{
    public static async Task<JsonElement> ReceiveJsonAsync(this ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        using var document = JsonDocument.Parse(message.ToArray());
        return document.RootElement.Clone();
    }
}
