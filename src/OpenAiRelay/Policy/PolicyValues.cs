namespace OpenAiRelay.Policy;

/// <summary>The rules every source of a policy (CLI flags, admin JSON, configuration) is held to, with one message each.</summary>
internal static class PolicyValues
{
    private static readonly System.Buffers.SearchValues<char> s_notInAPrefix = System.Buffers.SearchValues.Create("?#;%\\ ");

    /// <summary>A count limit: 1 to 1,000,000,000 (0 would refuse everything; a key that may do nothing is revoked instead).</summary>
    /// <exception cref="FormatException">Out of range.</exception>
    public static int Limit(long value, string name) =>
        value is >= 1 and <= 1_000_000_000 ? (int)value : throw new FormatException($"'{name}' must be between 1 and 1000000000");

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
