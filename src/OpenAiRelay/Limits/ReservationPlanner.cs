using OpenAiRelay.Configuration;
using OpenAiRelay.Errors;
using OpenAiRelay.Metering;
using OpenAiRelay.Policy;
using OpenAiRelay.Pricing;

namespace OpenAiRelay.Limits;

/// <summary>
/// Works out, before a request is admitted, the most it may consume: tokens against <c>tpm</c> (the prompt estimate
/// plus the output cap times <c>n</c>, or <see cref="LimitOptions.DefaultOutputReservationTokens"/> per choice when the
/// request sets no cap) and micro-dollars against a budget (those tokens at the model's price, or
/// <see cref="LimitOptions.UnknownCostReservationUsd"/> for a form or a WebSocket session, whose cost cannot be computed
/// in advance). Refuses what a budget cannot hold: a generation with no priced model, and under
/// <see cref="BudgetMode.Strict"/> one whose worst case is not known.
/// </summary>
internal sealed class ReservationPlanner(PriceTable prices, LimitOptions options)
{
    private readonly long _unknownCostMicros = (long)(options.UnknownCostReservationUsd * 1_000_000m);

    public ReservationPlan Plan(HttpContext context, string client, KeyPolicy policy, IRequestBodyFeature? body)
    {
        if (body is not { ExpectsUsage: true } || (policy.Tpm is null && policy.BudgetMicros is null))
        {
            // Not a generation (a list, a file, a retrieval): it spends no tokens and no money, so only the rate and
            // concurrency limits apply.
            return new ReservationPlan(KeyLimiter.Demand.None, null);
        }

        var choices = Math.Max(1, body.Choices);
        var output = body.GeneratesOutput ? (body.OutputCap ?? options.DefaultOutputReservationTokens) * choices : 0;
        var tokens = body.PromptEstimate + output;
        if (policy.BudgetMicros is null)
        {
            return new ReservationPlan(new KeyLimiter.Demand(tokens, 0, false), null);
        }

        var upgrade = context.WebSockets.IsWebSocketRequest;
        var capped = !body.GeneratesOutput || body.OutputCap is not null;
        if (policy.BudgetMode == BudgetMode.Strict && (body.IsForm || upgrade || !capped))
        {
            return new ReservationPlan(default, RelayError.OutputCapRequired(client));
        }

        if (body.IsForm)
        {
            // The model comes with the body: a model without a price stops the upload there, before the upstream
            // has a whole request. Until then, the configured reservation stands for the unknown cost.
            var check = body.FormModelCheck;
            body.FormModelCheck = model => check?.Invoke(model) ?? (prices.Find(model) is null ? RelayError.ModelNotPriced(client, model) : null);
            return new ReservationPlan(new KeyLimiter.Demand(tokens, _unknownCostMicros, true), null);
        }

        var model = body.Model;
        if (prices.Find(model) is not { } price)
        {
            return new ReservationPlan(default, RelayError.ModelNotPriced(client, model));
        }

        if (upgrade)
        {
            // A session's responses are charged as each one is done; the reservation stands for the one in progress.
            return new ReservationPlan(new KeyLimiter.Demand(tokens, _unknownCostMicros, true), null);
        }

        // An overflowing worst case (absurd caps) is a reservation no budget holds.
        var cost = price.CostMicros(body.PromptEstimate, 0, output) ?? long.MaxValue;
        return new ReservationPlan(new KeyLimiter.Demand(tokens, cost, true), null);
    }
}
