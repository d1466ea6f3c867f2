using Microsoft.AspNetCore.Http.Features;
using OpenAiRelay.Authentication;
using OpenAiRelay.Errors;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Limits;

/// <summary>
/// Refuses, before anything is counted or forwarded, what the client's policy does not allow: an endpoint outside its
/// <c>endpoints</c> allow-list, OpenAI's admin API (<c>/v1/organization/</c>) unless the list names it, and, for a key
/// with any limit, an endpoint that mints a credential usable without the relay (<c>/v1/realtime/client_secrets</c>),
/// all 403 <c>endpoint_not_allowed</c>; a generation whose model is not on its <c>models</c> allow-list, 403
/// <c>model_not_allowed</c>. A form's model arrives only with its body, so for a form the check goes with the body
/// (<see cref="IRequestBodyFeature.FormModelCheck"/>) and stops the upload at the model field.
/// </summary>
internal sealed class KeyPolicyStage(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var client = context.Features.GetRequiredFeature<IClientFeature>().Client;
        var policy = client.EffectivePolicy;
        if (!policy.AllowsEndpoint(context.Request.Path.Value))
        {
            return RelayErrorWriter.RefuseAsync(context, RelayError.EndpointNotAllowed(client.Label));
        }

        if (policy.Models is null)
        {
            return next(context);
        }

        // Metering off: the relay reads no body, so it cannot tell the model, and refuses rather than allow every one.
        if (context.Features.Get<IRequestBodyFeature>() is not { } body)
        {
            return RelayErrorWriter.RefuseAsync(context, RelayError.LimitsNeedMetering);
        }

        if (!body.ExpectsUsage)
        {
            return next(context);
        }

        if (body.IsForm)
        {
            var label = client.Label;
            var check = body.FormModelCheck;
            body.FormModelCheck = model => policy.AllowsModel(model) ? check?.Invoke(model) : RelayError.ModelNotAllowed(label, model);
            return next(context);
        }

        // A JSON body's model, or a Realtime session's ?model=. Responses WebSocket mode names a model per event, so
        // under an allow-list its URL must name one.
        return policy.AllowsModel(body.Model) ? next(context) : RelayErrorWriter.RefuseAsync(context, RelayError.ModelNotAllowed(client.Label, body.Model));
    }
}
