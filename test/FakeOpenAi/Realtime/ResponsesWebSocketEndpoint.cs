using System.Text.Json;
using FakeOpenAi.Endpoints;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Realtime;

/// <summary>
/// Responses WebSocket mode (<c>GET /v1/responses</c> upgraded): each <c>response.create</c> frame, carrying the
/// usual create parameters at top level (or under <c>response</c>), is answered with the Responses stream events
/// as text frames.
/// </summary>
internal static class ResponsesWebSocketEndpoint
{
    public static Task HandleAsync(FakeExchange x) => WebSocketSession.RunAsync(x, session => ConverseAsync(x, session));

    private static async Task ConverseAsync(FakeExchange x, WebSocketSession session)
    {
        var json = x.Json;
        while (await session.ReceiveAsync() is { } message)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(message);
            }
            catch (JsonException)
            {
                WriteError(json.Start(), "invalid_json", "The server failed to parse the event: invalid JSON.");
                await session.SendAsync(json.Written);
                continue;
            }

            using (document)
            {
                var root = document.RootElement;
                var type = JsonRead.String(root, "type");
                if (type != "response.create")
                {
                    WriteError(json.Start(), "invalid_event", type is null ? "The 'type' field is missing." : $"Invalid value: '{type}'. Supported values are: 'response.create'.");
                    await session.SendAsync(json.Written);
                    continue;
                }

                var parameters = JsonRead.Object(root, "response") ?? root;
                if (ResponseRun.Create(parameters, x.State.UnixNow, x.EventCount) is not { } run)
                {
                    WriteError(json.Start(), "missing_required_parameter", "Missing required parameter: 'model'.");
                    await session.SendAsync(json.Written);
                    continue;
                }

                await run.StreamAsync(session, json, x.Plan.MidStreamError, includeObfuscation: true);
            }
        }
    }

    private static void WriteError(Utf8JsonWriter w, string code, string message)
    {
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteNumber("sequence_number", 0);
        w.WriteStartObject("error");
        w.WriteString("type", "invalid_request_error");
        w.WriteString("code", code);
        w.WriteString("message", message);
        w.WriteNull("param");
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
