using System.Text.Json;

namespace OpenAiRelay.Policy;

/// <summary>
/// The stored and wire form of a policy: a JSON object with the snake_case fields of the admin API (<c>rpm</c>,
/// <c>tpm</c>, <c>max_concurrent</c>, <c>budget_usd</c>, <c>budget_period</c>, <c>budget_mode</c>, <c>models</c>,
/// <c>endpoints</c>), absent fields meaning unlimited. <c>budget_usd</c> is a decimal number of dollars on the wire
/// and integer micro-dollars inside. Unknown fields are refused, so a typo or
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

        if (policy.Tpm is { } tpm)
        {
            writer.WriteNumber("tpm", tpm);
        }

        if (policy.MaxConcurrent is { } concurrent)
        {
            writer.WriteNumber("max_concurrent", concurrent);
        }

        if (policy.BudgetMicros is { } budget)
        {
            writer.WriteNumber("budget_usd", PolicyValues.Dollars(budget));
            writer.WriteString("budget_period", policy.BudgetPeriod.Name());
            if (policy.BudgetMode == BudgetMode.Strict)
            {
                writer.WriteString("budget_mode", policy.BudgetMode.Name());
            }
        }

        WriteList(writer, "models", policy.Models);
        WriteList(writer, "endpoints", policy.Endpoints);

        writer.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter writer, string name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
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
                "tpm" => policy with { Tpm = clear ? null : PolicyValues.Limit(PositiveInt(field), "tpm") },
                "max_concurrent" => policy with { MaxConcurrent = clear ? null : PolicyValues.Limit(PositiveInt(field), "max_concurrent") },
                "budget_usd" => policy with { BudgetMicros = clear ? null : PolicyValues.BudgetMicros(Decimal(field)) },
                "budget_period" => policy with { BudgetPeriod = clear ? BudgetPeriod.Month : BudgetPeriods.Parse(Text(field)) },
                "budget_mode" => policy with { BudgetMode = clear ? BudgetMode.Reserve : BudgetPeriods.ParseMode(Text(field)) },
                "models" => policy with { Models = clear ? null : PolicyValues.Models(Strings(field)) },
                "endpoints" => policy with { Endpoints = clear ? null : PolicyValues.Endpoints(Strings(field)) },
                _ => throw new FormatException($"unknown policy field '{field.Name}' (known: {KnownFields})"),
            };
        }

        return policy;
    }

    public const string KnownFields = "rpm, tpm, max_concurrent, budget_usd, budget_period, budget_mode, models, endpoints";

    private static decimal Decimal(JsonProperty field) =>
        field.Value.ValueKind == JsonValueKind.Number && field.Value.TryGetDecimal(out var value)
            ? value
            : field.Value.ValueKind == JsonValueKind.String && decimal.TryParse(field.Value.GetString(), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var text)
                ? text
                : throw new FormatException($"'{field.Name}' must be a number of dollars such as 20 or 0.5, or null to clear it");

    private static string Text(JsonProperty field) =>
        field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString()! : throw new FormatException($"'{field.Name}' must be a string, or null to clear it");

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
