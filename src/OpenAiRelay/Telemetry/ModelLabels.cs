using System.Collections.Concurrent;
using OpenAiRelay.Pricing;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// A model name as a metric label: only names the price table knows (a client can send any string as its model, and
/// each would be a series: litellm#39136), up to a capacity, and <c>_OTHER</c> for the rest.
/// </summary>
internal sealed class ModelLabels(PriceTable prices, int capacity)
{
    public const string Other = "_OTHER";

    // The answer for each raw name met, so the price table's snapshot match runs once per name, not per request.
    private const int MaxRemembered = 2_000;

    private readonly BoundedLabels _admitted = new(capacity, Other);
    private readonly ConcurrentDictionary<string, string> _remembered = new(StringComparer.Ordinal);
    private int _rememberedCount;

    /// <summary>Null when the request named no model.</summary>
    public string? Of(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return null;
        }

        if (_remembered.TryGetValue(model, out var label))
        {
            return label;
        }

        label = prices.Find(model) is null ? Other : _admitted.Of(model);
        if (Volatile.Read(ref _rememberedCount) < MaxRemembered && _remembered.TryAdd(model, label))
        {
            Interlocked.Increment(ref _rememberedCount);
        }

        return label;
    }
}
