using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>
/// At start-up, settles the rows a dead process left in flight (<c>kill -9</c>, power loss): outcome
/// <c>interrupted</c>, <c>estimated</c>, input tokens from the admission estimate, cost from the price table.
/// It goes through the ordinary upsert, which only changes rows still in flight, so nothing is settled twice;
/// should the request in fact have been alive on another instance, its real settlement later replaces the estimate.
/// </summary>
internal static class UsageLedgerReconciler
{
    public static async Task<int> ReconcileAsync(UsageStore store, PriceTable prices, DateTimeOffset processStart, CancellationToken cancellationToken)
    {
        var stale = await store.ListInFlightAsync(processStart, cancellationToken);
        if (stale.Count == 0)
        {
            return 0;
        }

        var settled = stale.Select(row =>
        {
            // Never a silent zero: at least the prompt estimate made when the request was admitted.
            var input = Math.Max(row.InputTokens, row.EstimatedInputTokens);
            return row with
            {
                Outcome = UsageOutcome.Interrupted,
                Estimated = true,
                InputTokens = input,
                CostMicros = prices.CostMicros(row.Model, input, row.CachedTokens, row.OutputTokens, row.AudioMs),
            };
        }).ToList();
        foreach (var chunk in settled.Chunk(UsageLedgerWriter.MaxBatch))
        {
            await store.UpsertAsync(chunk, cancellationToken);
        }

        return settled.Count;
    }
}
