using Microsoft.AspNetCore.Http.Features;
using OpenAiRelay.Authentication;
using OpenAiRelay.Errors;

namespace OpenAiRelay.Limits;

/// <summary>
/// Refuses, with 403 <c>endpoint_not_allowed</c> and before anything is counted or forwarded, a request to an endpoint
/// the client's policy does not allow: one outside its <c>endpoints</c> allow-list, OpenAI's admin API
/// (<c>/v1/organization/</c>) unless the list names it, and, for a key with any limit, an endpoint that mints a
/// credential usable without the relay (<c>/v1/realtime/client_secrets</c>).
/// </summary>
internal sealed class KeyPolicyStage(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var client = context.Features.GetRequiredFeature<IClientFeature>().Client;
        return client.EffectivePolicy.AllowsEndpoint(context.Request.Path.Value)
            ? next(context)
            : RelayErrorWriter.RefuseAsync(context, RelayError.EndpointNotAllowed(client.Label));
    }
}
