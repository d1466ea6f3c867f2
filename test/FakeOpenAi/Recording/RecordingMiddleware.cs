using FakeOpenAi.Hosting;

namespace FakeOpenAi.Recording;

/// <summary>
/// Outermost middleware: records the request when its headers arrive, observes its body, and records how it ended.
/// Also turns a client abort into a quiet end instead of an unhandled exception.
/// </summary>
internal sealed class RecordingMiddleware(RequestDelegate next, FakeState state)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var feature = new FakeRequestFeature();
        context.Features.Set(feature);
        if (!state.Options.RecordRequests)
        {
            try
            {
                await next(context);
            }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested || feature.ResetByFake)
            {
                // The client left (or the fake reset it): whatever the handler was awaiting threw, which is expected.
            }

            return;
        }

        var request = context.Request;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name] = string.Join(", ", values.ToArray());
        }

        var recorded = new RecordedRequest(
            request.Method,
            request.Path.Value ?? string.Empty,
            request.QueryString.Value ?? string.Empty,
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? string.Empty,
            headers,
            state.Time.GetUtcNow());
        feature.Recorded = recorded;

        using var body = new RecordingRequestStream(request.Body);
        request.Body = body;
        using var responseBody = new RecordingResponseStream(context.Response.Body);
        context.Response.Body = responseBody;
        state.Log.Received(recorded);

        Exception? failure = null;
        try
        {
            await next(context);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested || feature.ResetByFake || body.Broken || responseBody.Broken)
        {
            // A client abort surfaces as OperationCanceledException, or as an IOException from a body read.
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        var aborted = !feature.ResetByFake && (feature.ClientVanished || body.Broken || responseBody.Broken || context.RequestAborted.IsCancellationRequested);
        if (!aborted && !feature.ResetByFake && !feature.IsWebSocket)
        {
            try
            {
                await body.DrainAsync(context.RequestAborted);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
            {
                // The client left after the fake answered; the hash then covers what did arrive.
            }
        }

        var status = failure is not null && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError
            : (aborted || feature.ResetByFake) && !context.Response.HasStarted ? 0
            : context.Response.StatusCode;
        var (length, sha, kept) = body.Finish();
        var (responseLength, responseSha, responseKept) = responseBody.Finish();
        recorded.CompleteResponse(responseLength, responseSha, responseKept);
        recorded.Complete(state.Time.GetUtcNow(), status, aborted, feature.ResetByFake, length, sha, kept);
        state.Log.Ended(recorded);

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }
}
