using OpenAiRelay.Errors;
using OpenAiRelay.Ledger;

namespace OpenAiRelay.Hosting;

/// <summary>
/// Before anything else about a <c>/v1</c> request is looked at: can this process take it? Not while it drains for
/// shutdown, and not while its ledger cannot record (fail closed: a request the ledger cannot account for is not
/// forwarded). Both answer 503 with a short <c>Retry-After</c>, so SDKs retry, on another instance when there is one.
/// </summary>
internal sealed class AdmissionStage(RequestDelegate next, RelayLifetime lifetime, IUsageLedger ledger)
{
    private static readonly TimeSpan s_retryAfter = TimeSpan.FromSeconds(2);

    public Task InvokeAsync(HttpContext context)
    {
        if (lifetime.IsDraining)
        {
            // And close the connection: a kept-alive client reconnects, to another instance when there is one. Set as
            // the headers go out, because writing the error clears the response first.
            context.Response.OnStarting(static state => CloseConnection((HttpResponse)state), context.Response);
            return RelayErrorWriter.RefuseAsync(context, RelayError.Draining, s_retryAfter);
        }

        return ledger.IsHealthy ? next(context) : RelayErrorWriter.RefuseAsync(context, RelayError.LedgerUnavailable, s_retryAfter);
    }

    private static Task CloseConnection(HttpResponse response)
    {
        response.Headers.Connection = "close";
        return Task.CompletedTask;
    }
}
