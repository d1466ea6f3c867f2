using System.Globalization;
using System.Text;
using FakeOpenAi.Wire;

namespace FakeOpenAi.Endpoints;

/// <summary>
/// <c>POST /v1/audio/transcriptions</c> and <c>/translations</c>. The "transcript" reports what arrived,
/// <c>received N bytes sha256 X</c>, so a test can prove the relay streamed the upload intact.
/// </summary>
internal static class AudioTextEndpoint
{
    public static async Task HandleAsync(FakeExchange x, bool translate)
    {
        var form = await MultipartForm.ReadAsync(x.Request, x.Aborted);
        if (form is null)
        {
            await OpenAiErrors.WriteAsync(
                x.Context,
                StatusCodes.Status400BadRequest,
                $"Invalid Content-Type header ({x.Request.ContentType}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')",
                "invalid_request_error",
                null,
                null);
            return;
        }

        if (form.File("file") is not { } file)
        {
            await OpenAiErrors.MissingParameterAsync(x.Context, "file");
            return;
        }

        if (!form.Fields.TryGetValue("model", out var model))
        {
            await OpenAiErrors.MissingModelAsync(x.Context);
            return;
        }

        var text = $"received {file.Length} bytes sha256 {file.Sha256}";
        // As if the upload were 16 kHz 16-bit mono PCM: deterministic, and grows with the upload like real audio.
        var seconds = int.TryParse(x.Request.Headers["x-fake-audio-seconds"], System.Globalization.CultureInfo.InvariantCulture, out var asked)
            ? asked
            : (int)Math.Max(1, file.Length / 32_000);
        var audioTokens = seconds * 10;
        var outputTokens = TokenEstimator.Count(text);
        var whisper = model.StartsWith("whisper", StringComparison.Ordinal);
        var format = form.Fields.GetValueOrDefault("response_format") ?? "json";

        if (!translate && form.Fields.GetValueOrDefault("stream") == "true" && !whisper)
        {
            await StreamAsync(x, text, audioTokens, outputTokens);
            return;
        }

        switch (format)
        {
            case "text":
                await WriteTextAsync(x, text + "\n", "text/plain; charset=utf-8");
                return;
            case "srt":
                await WriteTextAsync(x, $"1\n00:00:00,000 --> {Timestamp(seconds, ',')}\n{text}\n\n", "text/plain; charset=utf-8");
                return;
            case "vtt":
                await WriteTextAsync(x, $"WEBVTT\n\n00:00:00.000 --> {Timestamp(seconds, '.')}\n{text}\n\n", "text/vtt; charset=utf-8");
                return;
        }

        var writer = x.Json.Start();
        writer.WriteStartObject();
        if (format == "verbose_json")
        {
            writer.WriteString("task", translate ? "translate" : "transcribe");
            writer.WriteString("language", "english");
            writer.WriteNumber("duration", seconds);
            writer.WriteString("text", text);
            writer.WriteStartArray("segments");
            writer.WriteStartObject();
            writer.WriteNumber("id", 0);
            writer.WriteNumber("seek", 0);
            writer.WriteNumber("start", 0.0);
            writer.WriteNumber("end", seconds);
            writer.WriteString("text", text);
            writer.WriteStartArray("tokens");
            writer.WriteEndArray();
            writer.WriteNumber("temperature", 0.0);
            writer.WriteNumber("avg_logprob", -0.1);
            writer.WriteNumber("compression_ratio", 1.0);
            writer.WriteNumber("no_speech_prob", 0.0);
            writer.WriteEndObject();
            writer.WriteEndArray();
            UsageJson.WriteTranscriptionDuration(writer, seconds);
        }
        else
        {
            writer.WriteString("text", text);
            if (!translate)
            {
                if (whisper)
                {
                    UsageJson.WriteTranscriptionDuration(writer, seconds);
                }
                else
                {
                    UsageJson.WriteTranscriptionTokens(writer, audioTokens, outputTokens);
                }
            }
        }

        writer.WriteEndObject();
        await x.WriteJsonAsync();
    }

    /// <summary><c>stream=true</c> (gpt-4o-*-transcribe): data-only <c>transcript.text.delta</c> events, then <c>transcript.text.done</c> with usage.</summary>
    private static async Task StreamAsync(FakeExchange x, string text, int audioTokens, int outputTokens)
    {
        var sse = await x.StartSseAsync();
        var json = x.Json;
        foreach (var piece in text.Split(' '))
        {
            var delta = json.Start();
            delta.WriteStartObject();
            delta.WriteString("type", "transcript.text.delta");
            delta.WriteString("delta", piece + " ");
            delta.WriteEndObject();
            await sse.WriteDataAsync(json.Written);
        }

        var done = json.Start();
        done.WriteStartObject();
        done.WriteString("type", "transcript.text.done");
        done.WriteString("text", text);
        UsageJson.WriteTranscriptionTokens(done, audioTokens, outputTokens);
        done.WriteEndObject();
        await sse.WriteDataAsync(json.Written);
    }

    private static async Task WriteTextAsync(FakeExchange x, string body, string contentType)
    {
        await x.CreateEventPacer().BeforeWholeBodyAsync();
        var bytes = Encoding.UTF8.GetBytes(body);
        x.Response.ContentType = contentType;
        x.Response.ContentLength = bytes.Length;
        await x.Response.Body.WriteAsync(bytes, x.Aborted);
    }

    private static string Timestamp(int seconds, char separator) =>
        TimeSpan.FromSeconds(seconds).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) + separator + "000";
}
