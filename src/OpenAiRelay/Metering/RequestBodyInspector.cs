using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads a JSON request body before it is forwarded: the model, whether it streams, and whether the client asked for
/// stream usage. A streaming chat or completions request that did not ask gets <c>stream_options.include_usage</c>
/// added, so the ledger has exact counts; <see cref="SseBodyMeter"/> then hides the extra chunk from the client.
/// Bodies above <see cref="MaxInspectedBytes"/> (large base64 payloads) are forwarded untouched and estimated.
/// </summary>
internal static class RequestBodyInspector
{
    public const int MaxInspectedBytes = 16 * 1024 * 1024;

    private static readonly JsonSerializerOptions s_relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Returns the (possibly rewritten) JSON body the relay read, or null when it did not read one.</summary>
    public static async Task<byte[]?> InspectAsync(HttpContext context, RequestMeter meter)
    {
        var request = context.Request;
        if (HttpMethods.IsPost(request.Method) && meter.ExpectsUsage
            && request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true)
        {
            request.Body = new MultipartModelSniffer(request.Body, meter);
            meter.IsForm = true;
            return null;
        }

        if (!HttpMethods.IsPost(request.Method)
            || !meter.ExpectsUsage
            || request.ContentType is not { } contentType
            || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || request.ContentLength > MaxInspectedBytes)
        {
            return null;
        }

        if (await ReadWholeAsync(request, context.RequestAborted) is not { } body)
        {
            return null;
        }

        Read(body, meter, out var streamOptionsState);
        if (meter.Stream && meter.Endpoint is "/chat/completions" or "/completions" && streamOptionsState != StreamOptionsState.IncludesUsage)
        {
            if (Inject(body, streamOptionsState) is { } rewritten)
            {
                body = rewritten;
                meter.InjectedUsage = true;
            }
        }

        // Publicly visible: a later stage that reads the body (object isolation) reads these bytes, not the stream.
        request.Body = new MemoryStream(body, 0, body.Length, writable: false, publiclyVisible: true);
        request.ContentLength = body.Length;
        request.Headers.Remove("Transfer-Encoding");
        return body;
    }

    /// <summary>
    /// A JSON request body in memory, for a stage that reads it: the bytes inspection already read, or read now (and
    /// replayed to the upstream) when it did not; null for a body that is not JSON or is larger than
    /// <see cref="MaxInspectedBytes"/>, which is then forwarded untouched.
    /// </summary>
    public static async ValueTask<ReadOnlyMemory<byte>?> BufferJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.Body is MemoryStream read && read.TryGetBuffer(out var bytes))
        {
            return bytes.AsMemory();
        }

        if (request.ContentType is not { } contentType
            || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || request.ContentLength > MaxInspectedBytes
            || await ReadWholeAsync(request, cancellationToken) is not { } body)
        {
            return null;
        }

        request.Body = new MemoryStream(body, 0, body.Length, writable: false, publiclyVisible: true);
        request.ContentLength = body.Length;
        request.Headers.Remove("Transfer-Encoding");
        return body;
    }

    /// <summary>The whole body, or null (and a body that replays what was read) when it is larger than inspected.</summary>
    private static async Task<byte[]?> ReadWholeAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var original = request.Body;
        // What the SDKs send. Read straight into an array of the declared size: no chunk buffer and no copy
        // (a 16 KB chunk per request plus MemoryStream.ToArray was the largest allocation on the metered path).
        return request.ContentLength is { } length
            ? await ReadExactlyAsync(original, (int)length, cancellationToken)
            : await ReadChunkedAsync(request, original, cancellationToken);
    }

    /// <summary>Bytes allocated for a body before any of it has arrived; the buffer then grows with what was received.</summary>
    internal const int InitialBufferBytes = 64 * 1024;

    private static async Task<byte[]> ReadExactlyAsync(Stream source, int length, CancellationToken cancellationToken)
    {
        // NOTE: allocating the declared Content-Length up front let a client that declares 16 MiB and then sends a
        // byte a second pin 16 MiB per connection. Memory now follows the bytes received: a body that fits the first
        // buffer (what the SDKs send) is read into one array of its exact size, a larger one doubles as it arrives.
        var body = new byte[Math.Min(length, InitialBufferBytes)];
        var filled = 0;
        while (filled < length)
        {
            if (filled == body.Length)
            {
                Array.Resize(ref body, (int)Math.Min(length, (long)body.Length * 2));
            }

            var read = await source.ReadAsync(body.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        // Kestrel fails a body shorter than its Content-Length itself; this only guards the array's length.
        return filled == body.Length ? body : body[..filled];
    }

    /// <summary>A body without Content-Length: the whole of it, or null (and a body that replays what was read) above the inspection limit.</summary>
    private static async Task<byte[]?> ReadChunkedAsync(HttpRequest request, Stream original, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream(4096);
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await original.ReadAsync(chunk, cancellationToken)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > MaxInspectedBytes)
                {
                    // Larger than we inspect: forward what was read followed by the rest, untouched.
                    buffer.Position = 0;
                    request.Body = new PrefixedStream(buffer, original);
                    return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    private enum StreamOptionsState
    {
        Absent,
        WithoutUsage,
        IncludesUsage,
        NotAnObject,
    }

    private static void Read(ReadOnlySpan<byte> body, RequestMeter meter, out StreamOptionsState streamOptions)
    {
        streamOptions = StreamOptionsState.Absent;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    meter.RequestedModel = reader.GetString();
                }
                else if (reader.ValueTextEquals("stream"u8) && reader.Read())
                {
                    meter.Stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("background"u8) && reader.Read())
                {
                    meter.Background = reader.TokenType == JsonTokenType.True;
                }
                else if ((reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                    && reader.Read())
                {
                    // The output cap the reservations of a budget or tpm limit are made from. Whichever the request
                    // names; a value the upstream will refuse anyway (not a positive integer) is no cap.
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var cap) && cap > 0)
                    {
                        meter.OutputCap = Math.Max(meter.OutputCap ?? 0, Math.Min(cap, UsageLimits.MaxTokens));
                    }
                }
                else if (reader.ValueTextEquals("n"u8) && reader.Read())
                {
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var choices) && choices > 1)
                    {
                        meter.Choices = Math.Min(choices, 128);
                    }
                }
                else if (reader.ValueTextEquals("stream_options"u8) && reader.Read())
                {
                    streamOptions = reader.TokenType == JsonTokenType.StartObject ? ReadStreamOptions(ref reader) : StreamOptionsState.NotAnObject;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate ("\ud800") in a name or value cannot be unescaped.
            // Not ours to judge: the upstream answers malformed (or deeper than 64) JSON with its own 400. What could
            // not be read is not rewritten either: no usage is injected, and the ledger falls back to an estimate.
            streamOptions = StreamOptionsState.NotAnObject;
        }
    }

    private static StreamOptionsState ReadStreamOptions(ref Utf8JsonReader reader)
    {
        var state = StreamOptionsState.WithoutUsage;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isIncludeUsage && reader.TokenType == JsonTokenType.True)
            {
                state = StreamOptionsState.IncludesUsage;
            }

            reader.Skip();
        }

        return state;
    }

    private static byte[]? Inject(byte[] body, StreamOptionsState streamOptions)
    {
        if (streamOptions == StreamOptionsState.Absent)
        {
            // Splice before the root's closing brace: the rest of the body stays byte for byte as the client sent it.
            var close = Array.LastIndexOf(body, (byte)'}');
            if (close < 0 || body.AsSpan(close + 1).Trim(" \t\r\n"u8).Length != 0)
            {
                return null;
            }

            var insert = ",\"stream_options\":{\"include_usage\":true}"u8;
            var rewritten = new byte[body.Length + insert.Length];
            body.AsSpan(0, close).CopyTo(rewritten);
            insert.CopyTo(rewritten.AsSpan(close));
            body.AsSpan(close).CopyTo(rewritten.AsSpan(close + insert.Length));
            return rewritten;
        }

        if (streamOptions != StreamOptionsState.WithoutUsage)
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(body) is JsonObject root && root["stream_options"] is JsonObject options)
            {
                options["include_usage"] = true;
                return JsonSerializer.SerializeToUtf8Bytes(root, s_relaxed);
            }
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            // NOTE: JsonObject throws ArgumentException on a duplicate property name (at any depth, once it is
            // touched). Found by ParserFuzzTests; before, such a body was a 500. An ambiguous body is not rewritten.
        }

        return null;
    }
}
