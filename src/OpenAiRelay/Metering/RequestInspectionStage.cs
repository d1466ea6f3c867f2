using OpenAiRelay.Errors;
using OpenAiRelay.Pipeline;

namespace OpenAiRelay.Metering;

/// <summary>
/// Reads what the relay needs of a request before any decision that depends on it: classifies the endpoint, inspects a
/// generation's JSON body (model, stream, background; <c>include_usage</c> added) or a form's model, and estimates the
/// prompt. Offers the result as <see cref="IRequestBodyFeature"/>; the metering stage takes the meter it built.
/// </summary>
internal sealed class RequestInspectionStage(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var endpoint = RelayPaths.Remainder(context.Request).ToString();
        var meter = new RequestMeter(MeteredEndpoints.LedgerName(method, endpoint), MeteredEndpoints.ExpectsUsage(method, endpoint))
        {
            ReadsStoredResponse = MeteredEndpoints.IsStoredResponseRead(method, endpoint),
        };

        if (meter.ExpectsUsage && HttpMethods.IsGet(method) && context.Request.Query["model"].ToString() is { Length: > 0 } sessionModel)
        {
            // A Realtime session names its model in the URL: the row is priced by it, and a model allow-list checks it.
            meter.RequestedModel = sessionModel;
        }

        byte[]? body;
        try
        {
            body = await RequestBodyInspector.InspectAsync(context, meter);
        }
        catch (BadHttpRequestException e)
        {
            await RelayErrorWriter.RefuseAsync(context, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? RelayError.RequestTooLarge : RelayError.BadRequestBody);
            return;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client left while sending its body: nothing was forwarded, so there is no row.
            context.Features.Get<IRequestOutcomeFeature>()?.End(RequestOutcome.ClientCancelled);
            return;
        }

        if (meter.ExpectsUsage && body is not null)
        {
            meter.PromptEstimate = TokenEstimator.EstimatePromptTokens(body, meter.RequestedModel);
        }

        context.Features.Set<IRequestBodyFeature>(meter);
        await next(context);
    }
}
