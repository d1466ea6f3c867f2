namespace OpenAiRelay.Storage;

/// <summary>What a key has spent according to the ledger: the figure a budget starts from after a restart or a new period.</summary>
internal interface ISpendHistory
{
    /// <summary>
    /// Integer micro-dollars of the settled rows of <paramref name="keyId"/> that started at or after
    /// <paramref name="since"/> (rows a killed process left in flight are settled by the reconciler at start).
    /// </summary>
    Task<long> SpentSinceAsync(string keyId, DateTimeOffset since, CancellationToken cancellationToken);
}
