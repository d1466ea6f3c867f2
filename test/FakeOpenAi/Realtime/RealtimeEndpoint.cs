using System.Text.Json;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Realtime;

/// <summary>
/// <c>GET /v1/realtime?model=...</c> over WebSocket (wire doc §1.5): <c>session.created</c> first, a text response
/// with <c>response.done</c> usage for each <c>response.create</c>, and the spec's <c>error</c> event for anything it
/// does not know. GA event names by default; beta names (<c>response.text.delta</c>) with <c>OpenAI-Beta: realtime=v1</c>.
/// </summary>
internal static class RealtimeEndpoint
{
    public static Task HandleAsync(FakeExchange x)
    {
        var beta = x.Request.Headers["OpenAI-Beta"].ToString().Contains("realtime=v1", StringComparison.Ordinal);
        var model = x.Request.Query["model"].ToString() is { Length: > 0 } m ? m : "gpt-realtime";
        return WebSocketSession.RunAsync(x, session => ConverseAsync(x, session, new RealtimeConversation(model, beta, x.EventCount, x.State.UnixNow)));
    }

    private static async Task ConverseAsync(FakeExchange x, WebSocketSession session, RealtimeConversation conversation)
    {
        var json = x.Json;
        conversation.WriteSessionEvent(json.Start(), "session.created");
        await session.SendAsync(json.Written);

        while (await session.ReceiveAsync() is { } message)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(message);
            }
            catch (JsonException)
            {
                RealtimeConversation.WriteError(json.Start(), "invalid_json", "The server failed to parse the event: invalid JSON.", null, null);
                await session.SendAsync(json.Written);
                continue;
            }

            using (document)
            {
                var root = document.RootElement;
                var eventId = JsonRead.String(root, "event_id");
                switch (JsonRead.String(root, "type"))
                {
                    case null:
                        RealtimeConversation.WriteError(json.Start(), "invalid_event", "The 'type' field is missing.", null, eventId);
                        await session.SendAsync(json.Written);
                        break;
                    case "session.update":
                        conversation.WriteSessionEvent(json.Start(), "session.updated");
                        await session.SendAsync(json.Written);
                        break;
                    case "conversation.item.create":
                        conversation.AddItem(root);
                        conversation.WriteItemCreated(json.Start(), root);
                        await session.SendAsync(json.Written);
                        break;
                    case "input_audio_buffer.append":
                        conversation.AppendAudio(root);
                        break;
                    case "input_audio_buffer.commit":
                        conversation.WriteSimple(json.Start(), "input_audio_buffer.committed");
                        await session.SendAsync(json.Written);
                        break;
                    case "input_audio_buffer.clear":
                        conversation.WriteSimple(json.Start(), "input_audio_buffer.cleared");
                        await session.SendAsync(json.Written);
                        break;
                    case "response.cancel":
                        // Responses here complete before the next client event is read; nothing to cancel.
                        break;
                    case "response.create":
                        await conversation.RespondAsync(session, json, x.Plan.MidStreamError);
                        break;
                    case var unknown:
                        RealtimeConversation.WriteError(
                            json.Start(),
                            "invalid_event",
                            $"Invalid value: '{unknown}'. Unknown client event type.",
                            "type",
                            eventId);
                        await session.SendAsync(json.Written);
                        break;
                }
            }
        }
    }
}
