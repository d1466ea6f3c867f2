using System.Text.Json;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Errors;

internal static class RelayErrorWriter
{
    // Messages are the relay's own constant text; relaxed escaping keeps them readable (no \u0027 for quotes).
    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// A stage refuses the request itself: the outcome is <see cref="RequestOutcome.Rejected"/> and the client gets
    /// <paramref name="error"/>. Nothing has been forwarded.
    /// </summary>
    public static Task RefuseAsync(HttpContext context, RelayError error, TimeSpan? retryAfter = null)
    {
        context.Features.Get<IRequestOutcomeFeature>()?.End(RequestOutcome.Rejected, error.Reason);
        return WriteAsync(context, error, retryAfter);
    }

    /// <summary>Writes <paramref name="error"/> unless the response has already started (then the caller must abort).</summary>
    public static Task WriteAsync(HttpContext context, RelayError error, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.Clear();
        response.Headers[RelayHeaders.RequestId] = context.TraceIdentifier;
        response.StatusCode = error.StatusCode;
        response.ContentType = "application/json";
        if (error.ShouldRetry is { } shouldRetry)
        {
            response.Headers["x-should-retry"] = shouldRetry ? "true" : "false";
        }

        if (retryAfter is { } delay)
        {
            // Whole seconds for every client, and the exact wait in milliseconds, which OpenAI's SDKs read first.
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["retry-after-ms"] = Math.Max(1, (long)Math.Ceiling(delay.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (error.StatusCode == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = "Bearer realm=\"openai-relay\"";
        }

        if (error.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            response.Headers.Allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
        }

        return response.Body.WriteAsync(Serialize(error), context.RequestAborted).AsTask();
    }

    public static byte[] Serialize(RelayError error)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", error.Message);
            writer.WriteString("type", error.Type);
            writer.WriteNull("param");
            writer.WriteString("code", error.Code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
