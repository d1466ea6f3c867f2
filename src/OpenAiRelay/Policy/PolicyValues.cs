namespace OpenAiRelay.Policy;

/// <summary>The rules every source of a policy (CLI flags, admin JSON, configuration) is held to, with one message each.</summary>
internal static class PolicyValues
{
    private static readonly System.Buffers.SearchValues<char> s_notInAPrefix = System.Buffers.SearchValues.Create("?#;%\\ ");

    /// <summary>A count limit: 1 to 1,000,000,000 (0 would refuse everything; a key that may do nothing is revoked instead).</summary>
    /// <exception cref="FormatException">Out of range.</exception>
    public static int Limit(long value, string name) =>
        value is >= 1 and <= 1_000_000_000 ? (int)value : throw new FormatException($"'{name}' must be between 1 and 1000000000");

    /// <summary>The largest budget: a billion dollars, so micro-dollar sums stay far from overflowing.</summary>
    public const long MaxBudgetMicros = 1_000_000_000L * 1_000_000;

    /// <summary>Dollars to integer micro-dollars: more than 0, at most a billion, and no finer than a micro-dollar.</summary>
    /// <exception cref="FormatException">Out of range or finer than a micro-dollar.</exception>
    public static long BudgetMicros(decimal dollars)
    {
        var micros = dollars * 1_000_000m;
        if (micros != decimal.Truncate(micros))
        {
            throw new FormatException("'budget_usd' is finer than a micro-dollar (at most 6 decimals)");
        }

        return micros is >= 1 and <= MaxBudgetMicros ? (long)micros : throw new FormatException("'budget_usd' must be more than 0 and at most 1000000000");
    }

    /// <summary>Integer micro-dollars as the decimal dollars of the wire form.</summary>
    public static decimal Dollars(long micros) => micros / 1_000_000m;

    /// <summary>Model names or prefixes ending in <c>*</c>, trimmed, duplicates dropped.</summary>
    /// <exception cref="FormatException">An empty name, whitespace inside, or a <c>*</c> that is not the last character.</exception>
    public static IReadOnlyList<string> Models(IEnumerable<string> values)
    {
        var models = new List<string>();
        foreach (var raw in values)
        {
            var value = raw.Trim();
            if (value.Length == 0 || value.Length > 200 || value.Any(char.IsWhiteSpace) || value.IndexOf('*') is >= 0 and var star && star != value.Length - 1)
            {
                throw new FormatException($"model '{raw}' must be a model name, or a prefix ending in * such as gpt-4o*");
            }

            if (!models.Contains(value, StringComparer.OrdinalIgnoreCase))
            {
                models.Add(value);
            }
        }

        return models.Count > 0 ? models : throw new FormatException("models must name at least one model (or be cleared)");
    }

    /// <summary>Path prefixes under <c>/v1</c>, without a query, trailing slashes trimmed, duplicates dropped.</summary>
    /// <exception cref="FormatException">An entry that is not a <c>/v1</c> path.</exception>
    public static IReadOnlyList<string> Endpoints(IEnumerable<string> values)
    {
        var endpoints = new List<string>();
        foreach (var raw in values)
        {
            var value = raw.Trim().TrimEnd('/');
            if (!KeyPolicy.IsUnder(value, "/v1") || value.AsSpan().IndexOfAny(s_notInAPrefix) >= 0 || value.Contains("//", StringComparison.Ordinal))
            {
                throw new FormatException($"endpoint '{raw}' must be a /v1 path prefix such as /v1/chat");
            }

            if (!endpoints.Contains(value, StringComparer.OrdinalIgnoreCase))
            {
                endpoints.Add(value);
            }
        }

        return endpoints.Count > 0 ? endpoints : throw new FormatException("endpoints must name at least one /v1 path (or be cleared)");
    }
}
