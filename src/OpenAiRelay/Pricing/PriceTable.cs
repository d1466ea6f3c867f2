using System.Text.Json;
using System.Text.RegularExpressions;
using OpenAiRelay.Configuration;

namespace OpenAiRelay.Pricing;

/// <summary>
/// Prices per model: the table shipped in <c>prices.json</c>, with <c>RELAY_PRICES_FILE</c> (same shape) merged over it
/// model by model. A dated snapshot (<c>gpt-4o-mini-2024-07-18</c>, <c>gpt-4-0613</c>) takes the price of the longest
/// listed name it extends by a date; any other unlisted model is unknown and costs null: the ledger never guesses.
/// </summary>
internal sealed partial class PriceTable
{
    private readonly Dictionary<string, ModelPrice> _prices;
    private readonly string[] _namesLongestFirst;

    public PriceTable(IReadOnlyDictionary<string, ModelPrice> prices, string updated)
    {
        _prices = new Dictionary<string, ModelPrice>(prices, StringComparer.OrdinalIgnoreCase);
        _namesLongestFirst = _prices.Keys.OrderByDescending(k => k.Length).ToArray();
        Updated = updated;
    }

    public string Updated { get; }

    public int Count => _prices.Count;

    public static PriceTable Load(string? overrideFile)
    {
        using var shipped = typeof(PriceTable).Assembly.GetManifestResourceStream("OpenAiRelay.Pricing.prices.json")!;
        var (prices, updated) = Parse(shipped, "the shipped prices.json");
        if (!string.IsNullOrWhiteSpace(overrideFile))
        {
            try
            {
                using var stream = File.OpenRead(overrideFile);
                var (overrides, overrideUpdated) = Parse(stream, "RELAY_PRICES_FILE");
                foreach (var (model, price) in overrides)
                {
                    prices[model] = price;
                }

                updated = overrideUpdated ?? updated;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RelayConfigurationException([$"RELAY_PRICES_FILE: cannot read {overrideFile}: {e.Message}"]);
            }
        }

        return new PriceTable(prices, updated ?? "unknown");
    }

    public ModelPrice? Find(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return null;
        }

        if (_prices.TryGetValue(model, out var exact))
        {
            return exact;
        }

        foreach (var name in _namesLongestFirst)
        {
            if (model.Length > name.Length && model.StartsWith(name, StringComparison.OrdinalIgnoreCase) && SnapshotSuffix().IsMatch(model.AsSpan(name.Length)))
            {
                return _prices[name];
            }
        }

        return null;
    }

    /// <summary>Integer micro-dollars, or null when the model's price is unknown.</summary>
    public long? CostMicros(string? model, long inputTokens, long cachedTokens, long outputTokens, long audioMilliseconds = 0)
        => Find(model)?.CostMicros(inputTokens, cachedTokens, outputTokens, audioMilliseconds);

    private static (Dictionary<string, ModelPrice> Prices, string? Updated) Parse(Stream stream, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = document.RootElement;
            var updated = root.TryGetProperty("updated", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            var prices = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
            foreach (var model in root.GetProperty("models").EnumerateObject())
            {
                // A duration-billed model (whisper-1) may list only its per-minute price.
                decimal? perMinute = model.Value.TryGetProperty("per_minute", out var m) ? m.GetDecimal() : null;
                var input = perMinute is not null && !model.Value.TryGetProperty("input", out _) ? 0 : model.Value.GetProperty("input").GetDecimal();
                var output = perMinute is not null && !model.Value.TryGetProperty("output", out _) ? 0 : model.Value.GetProperty("output").GetDecimal();
                // Without a cached price, cached tokens cost the full input price: never less than OpenAI could bill.
                var cached = model.Value.TryGetProperty("cached_input", out var c) ? c.GetDecimal() : input;
                if (input < 0 || output < 0 || cached < 0 || perMinute < 0)
                {
                    throw new FormatException($"negative price for {model.Name}");
                }

                prices[model.Name] = new ModelPrice(input, cached, output, perMinute);
            }

            return (prices, updated);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new RelayConfigurationException([$"{source} is not a valid price table ({e.Message}); expected {{\"models\": {{\"gpt-4o\": {{\"input\": 2.5, \"cached_input\": 1.25, \"output\": 10}}}}}}"]);
        }
    }

    // -2024-07-18 (OpenAI's current snapshots) or -0613 (older ones).
    [GeneratedRegex(@"^-(\d{4}-\d{2}-\d{2}|\d{4})$")]
    private static partial Regex SnapshotSuffix();
}
