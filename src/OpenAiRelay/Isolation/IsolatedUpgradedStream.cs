using System.Text.Json;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Isolation;

/// <summary>
/// The client's side of a WebSocket session of a key in per-key mode (Realtime, Responses WebSocket mode). Client
/// events are read whole before the frame that completes them goes on: one that names an object the key does not own
/// (<c>previous_response_id</c>, <c>conversation</c>, a file, ...) ends the session there, so the upstream never
/// receives it. Upstream events that create an object (<c>response.created</c> of Responses WebSocket mode) are
/// recorded as the key's before the frame that completes them reaches the client.
/// </summary>
internal sealed class IsolatedUpgradedStream : OwningDelegatingStream
{
    private readonly WebSocketTextMessages _fromClient;
    private readonly WebSocketTextMessages _toClient;

    public IsolatedUpgradedStream(Stream inner, string keyId, bool recordsResponses, ObjectOwnership ownership, TimeProvider time)
        : base(inner)
    {
        _fromClient = new WebSocketTextMessages(async (message, whole) =>
        {
            if (!whole)
            {
                // Too long to read whole: only audio is that long, and audio names no object.
                if (message.Span[..Math.Min(256, message.Length)].IndexOf("\"input_audio_buffer.append\""u8) < 0)
                {
                    throw new IOException("A client event too long to check for object ids ended the session.");
                }

                return;
            }

            foreach (var (_, id) in ObjectReferences.Find(message.Span))
            {
                if (!await ownership.IsOwnedByAsync(id, keyId, CancellationToken.None))
                {
                    throw new IOException("A client event named an object this key does not own; the session was ended before the upstream got it.");
                }
            }
        });
        _toClient = new WebSocketTextMessages(async (message, whole) =>
        {
            if (!recordsResponses || !whole || message.Span.IndexOf("\"response.created\""u8) < 0)
            {
                return;
            }

            using var document = JsonDocument.Parse(message);
            await ownership.RecordAsync(CreatedObjects.Read(document.RootElement, keyId, time.GetUtcNow()), CancellationToken.None);
        });
    }

    public override int Read(Span<byte> buffer) => throw new NotSupportedException("The relay reads WebSocket tunnels asynchronously.");

    public override void Write(ReadOnlySpan<byte> buffer) => throw new NotSupportedException("The relay writes WebSocket tunnels asynchronously.");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await Inner.ReadAsync(buffer, cancellationToken);
        await _fromClient.ObserveAsync(buffer[..read]);
        return read;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _toClient.ObserveAsync(buffer);
        await Inner.WriteAsync(buffer, cancellationToken);
    }
}
