using System.Text.Json;

namespace OpenAiRelay.Policy;

/// <summary>
/// The stored and wire form of a policy: a JSON object with the snake_case fields of the admin API (<c>rpm</c>,
/// <c>max_concurrent</c>, <c>endpoints</c>), absent fields meaning unlimited. Unknown fields are refused, so a typo or
/// a field from a newer relay never silently means "no limit".
/// </summary>
internal static class KeyPolicyJson
{
    public static string? Serialize(KeyPolicy policy)
    {
        if (policy.IsUnlimited)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, policy);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void Write(Utf8JsonWriter writer, KeyPolicy policy)
    {
        writer.WriteStartObject();
        if (policy.Rpm is { } rpm)
        {
            writer.WriteNumber("rpm", rpm);
        }

        if (policy.MaxConcurrent is { } concurrent)
        {
            writer.WriteNumber("max_concurrent", concurrent);
        }

        if (policy.Endpoints is { } endpoints)
        {
            writer.WriteStartArray("endpoints");
            foreach (var endpoint in endpoints)
            {
                writer.WriteStringValue(endpoint);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    /// <exception cref="FormatException">Not a policy object, an unknown field, or a value out of range.</exception>
    public static KeyPolicy Parse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return KeyPolicy.Unlimited;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return Read(document.RootElement, KeyPolicy.Unlimited);
        }
        catch (JsonException e)
        {
            throw new FormatException("a policy must be a JSON object", e);
        }
    }

    /// <summary>
    /// Applies the fields present in <paramref name="changes"/> to <paramref name="policy"/>: a number or list sets the
    /// field, <c>null</c> (or the string <c>"none"</c>) clears it, an absent field is left as it was.
    /// </summary>
    /// <exception cref="FormatException">An unknown field or a value out of range.</exception>
    /// <param name="otherFields">Fields of the same object that are not the policy's (a create call's <c>name</c>), skipped.</param>
    public static KeyPolicy Read(JsonElement changes, KeyPolicy policy, IReadOnlySet<string>? otherFields = null)
    {
        if (changes.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a policy must be a JSON object");
        }

        foreach (var field in changes.EnumerateObject())
        {
            if (otherFields?.Contains(field.Name) == true)
            {
                continue;
            }

            var clear = field.Value.ValueKind == JsonValueKind.Null
                || (field.Value.ValueKind == JsonValueKind.String && field.Value.ValueEquals("none"));
            policy = field.Name switch
            {
                "rpm" => policy with { Rpm = clear ? null : PolicyValues.Limit(PositiveInt(field), "rpm") },
                "max_concurrent" => policy with { MaxConcurrent = clear ? null : PolicyValues.Limit(PositiveInt(field), "max_concurrent") },
                "endpoints" => policy with { Endpoints = clear ? null : PolicyValues.Endpoints(Strings(field)) },
                _ => throw new FormatException($"unknown policy field '{field.Name}' (known: rpm, max_concurrent, endpoints)"),
            };
        }

        return policy;
    }

    private static long PositiveInt(JsonProperty field) =>
        field.Value.ValueKind == JsonValueKind.Number && field.Value.TryGetInt64(out var value)
            ? value
            : throw new FormatException($"'{field.Name}' must be a whole number, or null to clear it");

    private static IEnumerable<string> Strings(JsonProperty field)
    {
        if (field.Value.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"'{field.Name}' must be an array of strings, or null to clear it");
        }

        foreach (var item in field.Value.EnumerateArray())
        {
            yield return item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new FormatException($"'{field.Name}' must be an array of strings");
        }
    }
}
