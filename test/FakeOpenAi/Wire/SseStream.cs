using System.Buffers;
using System.Text;

namespace FakeOpenAi.Wire;

/// <summary>
/// Writes <c>text/event-stream</c>: optional <c>event:</c> line, one <c>data:</c> line, a blank line, then a flush, so
/// every event leaves the fake on its own (the relay must not re-buffer them).
/// </summary>
internal sealed class SseStream(HttpContext context, StreamPacer pacer)
{
    private static readonly byte[] Done = "[DONE]"u8.ToArray();

    public StreamPacer Pacer => pacer;

    public async Task StartAsync()
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        await response.StartAsync(context.RequestAborted);
        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    public ValueTask WriteDataAsync(ReadOnlyMemory<byte> data, bool paced = true) => WriteEventAsync(null, data, paced);

    public ValueTask WriteDoneAsync() => WriteEventAsync(null, Done);

    public async ValueTask WriteEventAsync(string? eventName, ReadOnlyMemory<byte> data, bool paced = true)
    {
        await pacer.BeforeEventAsync(paced);
        var writer = context.Response.BodyWriter;
        if (eventName is not null)
        {
            writer.Write("event: "u8);
            Encoding.UTF8.GetBytes(eventName, writer);
            writer.Write("\n"u8);
        }

        writer.Write("data: "u8);
        writer.Write(UsageOverride.Apply(context.Request, data).Span);
        writer.Write("\n\n"u8);
        await writer.FlushAsync(context.RequestAborted);
    }
}
