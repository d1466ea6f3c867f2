using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// What a key with a budget has spent in its current period, by the ledger's settled rows, and what remains. The
/// budget is the key's own, or the default policy's for a key that sets none.
/// </summary>
internal sealed record KeySpend(KeyPolicy Policy, DateTimeOffset PeriodStart, long SpentMicros)
{
    public long BudgetMicros => Policy.BudgetMicros ?? 0;

    /// <summary>Never below zero: a response longer than its reservation can take the spend past the budget.</summary>
    public long RemainingMicros => Math.Max(0, BudgetMicros - SpentMicros);

    /// <summary>The spend of every key in <paramref name="keys"/> that has a budget, by key id.</summary>
    public static async Task<IReadOnlyDictionary<string, KeySpend>> ReadAsync(
        IEnumerable<StoredClientKey> keys, KeyPolicy defaultPolicy, ISpendHistory history, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var spends = new Dictionary<string, KeySpend>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var policy = key.Policy.IsUnlimited ? defaultPolicy : key.Policy;
            if (policy.BudgetMicros is null || key.RevokedAt is not null)
            {
                continue;
            }

            var start = policy.BudgetPeriod.Start(now);
            spends[key.KeyId] = new KeySpend(policy, start, await history.SpentSinceAsync(key.KeyId, start, cancellationToken));
        }

        return spends;
    }

    /// <summary>Micro-dollars as <c>$12.345678</c>, trailing zeros trimmed to cents.</summary>
    public static string Dollars(long micros) =>
        "$" + (micros / 1_000_000m).ToString("0.00####", System.Globalization.CultureInfo.InvariantCulture);
}
