using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace OpenAiRelay.Hosting;

/// <summary>
/// <c>GET /healthz/stream</c>: a short server-sent event stream, sent the way the relay sends a relayed one (the same
/// content type, <c>X-Accel-Buffering: no</c>, a flush per event), so that <c>openai-relay check --through URL</c>
/// can tell from outside whether whatever stands in front (nginx, a CDN) passes events as they come or holds them
/// back. No auth and no upstream call: it costs a second of one connection, and at most
/// <see cref="MaxConcurrent"/> run at once.
/// </summary>
internal static class StreamProbe
{
    public const string Path = "/healthz/stream";

    public const int Events = 5;

    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private const int MaxConcurrent = 4;

    private static int s_running;

    public static async Task ServeAsync(HttpContext context)
    {
        if (Interlocked.Increment(ref s_running) > MaxConcurrent)
        {
            Interlocked.Decrement(ref s_running);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsync("{\"status\":\"busy\"}", context.RequestAborted);
            return;
        }

        try
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            for (var i = 0; i < Events; i++)
            {
                if (i > 0)
                {
                    await Task.Delay(Interval, context.RequestAborted);
                }

                await response.Body.WriteAsync(Encoding.ASCII.GetBytes($"data: {{\"probe\":{i}}}\n\n"), context.RequestAborted);
                await response.Body.FlushAsync(context.RequestAborted);
            }

            await response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The checker left; nothing to finish.
        }
        finally
        {
            Interlocked.Decrement(ref s_running);
        }
    }
}
