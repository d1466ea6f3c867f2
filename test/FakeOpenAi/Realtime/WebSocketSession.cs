using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Realtime;

/// <summary>
/// An accepted WebSocket: whole-message receive (recorded), paced text sends, and a clean close when the client
/// closes. A client that vanishes surfaces as <see cref="WebSocketException"/>, which <see cref="RunAsync"/> records.
/// </summary>
internal sealed class WebSocketSession : IEventSink
{
    private const string RealtimeSubProtocol = "realtime";
    private const int MaxMessageBytes = 16 * 1024 * 1024;

    private readonly FakeExchange _exchange;
    private readonly WebSocket _socket;
    private readonly StreamPacer _pacer;
    private readonly ArrayBufferWriter<byte> _message = new(4096);

    private WebSocketSession(FakeExchange exchange, WebSocket socket)
    {
        _exchange = exchange;
        _socket = socket;
        _pacer = exchange.CreateEventPacer();
    }

    /// <summary>
    /// Accepts the upgrade and runs <paramref name="conversation"/>. Answers with the <c>realtime</c> subprotocol when
    /// it was offered (clients abort otherwise, wire doc §1.5) and never echoes an <c>openai-insecure-api-key.*</c> entry.
    /// </summary>
    public static async Task RunAsync(FakeExchange exchange, Func<WebSocketSession, Task> conversation)
    {
        var offered = exchange.Context.WebSockets.WebSocketRequestedProtocols;
        var subProtocol = offered.Contains(RealtimeSubProtocol) ? RealtimeSubProtocol : null;
        exchange.Feature.IsWebSocket = true;
        using var socket = await exchange.Context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = subProtocol });
        exchange.Feature.Recorded?.SetWebSocketSubProtocol(subProtocol);
        var session = new WebSocketSession(exchange, socket);
        try
        {
            await conversation(session);
        }
        catch (WebSocketException)
        {
            // The peer went away without a close handshake (WebSocketError.ConnectionClosedPrematurely and kin).
            exchange.Feature.ClientVanished = true;
        }
    }

    /// <summary>The next text message, or null once the client has closed (the close is answered).</summary>
    public async Task<string?> ReceiveAsync()
    {
        _message.ResetWrittenCount();
        while (true)
        {
            var memory = _message.GetMemory(4096);
            var result = await _socket.ReceiveAsync(memory, _exchange.Aborted);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (_socket.State == WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, _exchange.Aborted);
                }

                return null;
            }

            _message.Advance(result.Count);
            if (_message.WrittenCount > MaxMessageBytes)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "message too big", _exchange.Aborted);
                return null;
            }

            if (result.EndOfMessage)
            {
                var text = result.MessageType == WebSocketMessageType.Text
                    ? Encoding.UTF8.GetString(_message.WrittenSpan)
                    : $"<binary {_message.WrittenCount} bytes>";
                _exchange.Feature.Recorded?.AddWebSocketMessage(text);
                return text;
            }
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> json)
    {
        await _pacer.BeforeEventAsync();
        await _socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, _exchange.Aborted);
    }

    ValueTask IEventSink.SendAsync(string eventType, ReadOnlyMemory<byte> json) => SendAsync(json);
}
