using OpenAiRelay.Authentication;
using System.Globalization;
using System.Text.Json;
using OpenAiRelay.Policy;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>The JSON shapes of keys and usage reports, shared by <c>--json</c> and the admin API. Never a hash.</summary>
internal static class AdminJson
{
    public static void WriteKey(Utf8JsonWriter writer, StoredClientKey key, DateTimeOffset now, string? token = null, KeySpend? spend = null)
    {
        writer.WriteStartObject();
        writer.WriteString("name", key.Name);
        writer.WriteString("key_id", key.KeyId);
        writer.WriteString("label", ClientKeyToken.LabelFor(key.KeyId));
        if (token is not null)
        {
            writer.WriteString("key", token);
        }

        writer.WriteString("created_at", key.CreatedAt);
        WriteTimestamp(writer, "expires_at", key.ExpiresAt);
        WriteTimestamp(writer, "revoked_at", key.RevokedAt);
        writer.WriteString("status", key.RevokedAt is not null ? "revoked" : key.IsUsableAt(now) ? "active" : "expired");
        // The key's own policy; {} when it sets none, and then Relay:Limits:Default applies.
        writer.WritePropertyName("policy");
        KeyPolicyJson.Write(writer, key.Policy);
        if (spend is not null)
        {
            // Settled spend in the current period of the budget that applies (the key's own or the default).
            writer.WriteStartObject("spend");
            writer.WriteString("budget_period", spend.Policy.BudgetPeriod.Name());
            writer.WriteString("period_start", spend.PeriodStart);
            writer.WriteNumber("budget_usd", PolicyValues.Dollars(spend.BudgetMicros));
            writer.WriteNumber("spent_usd", PolicyValues.Dollars(spend.SpentMicros));
            writer.WriteNumber("remaining_usd", PolicyValues.Dollars(spend.RemainingMicros));
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    public static void WriteObjects(Utf8JsonWriter writer, IEnumerable<OwnedObject> objects) => WriteList(writer, objects, static (writer, owned) =>
    {
        writer.WriteStartObject();
        writer.WriteString("id", owned.ObjectId);
        writer.WriteString("kind", owned.Kind);
        WriteStringOrNull(writer, "owner", owned.OwnerKeyId is { } owner ? ClientKeyToken.LabelFor(owner) : null);
        writer.WriteString("created_at", owned.CreatedAt);
        writer.WriteEndObject();
    });

    public static void WriteAudit(Utf8JsonWriter writer, IEnumerable<AdminAuditEntry> entries) => WriteList(writer, entries, static (writer, entry) =>
    {
        writer.WriteStartObject();
        writer.WriteString("at", entry.At);
        writer.WriteString("actor", entry.Actor);
        WriteStringOrNull(writer, "address", entry.Address);
        writer.WriteString("action", entry.Action);
        writer.WriteString("target", entry.Target);
        writer.WriteEndObject();
    });

    public static void WriteKeys(Utf8JsonWriter writer, IEnumerable<StoredClientKey> keys, DateTimeOffset now, IReadOnlyDictionary<string, KeySpend>? spends = null) =>
        WriteList(writer, keys, (writer, key) => WriteKey(writer, key, now, spend: spends?.GetValueOrDefault(key.KeyId)));

    /// <summary>The admin API's list envelope, <c>{"object":"list","data":[...]}</c>, as OpenAI's lists are shaped.</summary>
    private static void WriteList<T>(Utf8JsonWriter writer, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeItem)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var item in items)
        {
            writeItem(writer, item);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    public static void WriteNumberOrNull(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    public static void WriteUsage(Utf8JsonWriter writer, UsageQuery query, IEnumerable<UsageSummaryRow> rows)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "usage_report");
        writer.WriteString("by", query.By.ToString().ToLowerInvariant());
        WriteTimestamp(writer, "since", query.Since);
        WriteTimestamp(writer, "until", query.Until);
        writer.WriteStartArray("data");
        foreach (var row in rows)
        {
            writer.WriteStartObject();
            writer.WriteString("group", row.Group);
            writer.WriteNumber("requests", row.Requests);
            writer.WriteNumber("input_tokens", row.InputTokens);
            writer.WriteNumber("cached_tokens", row.CachedTokens);
            writer.WriteNumber("output_tokens", row.OutputTokens);
            writer.WriteNumber("reasoning_tokens", row.ReasoningTokens);
            writer.WriteNumber("cost_micros", row.CostMicros);
            // A string, so no JSON reader turns the exact amount into a binary float.
            writer.WriteString("cost_usd", FormatUsd(row.CostMicros));
            writer.WriteNumber("unpriced_requests", row.UnpricedRequests);
            writer.WriteNumber("estimated_requests", row.EstimatedRequests);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>What a CLI verb prints for <c>--json</c>: <paramref name="write"/>'s document, indented.</summary>
    public static string Indented(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            write(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string FormatUsd(long micros) => (micros / 1_000_000m).ToString("0.000000", CultureInfo.InvariantCulture);

    private static void WriteTimestamp(Utf8JsonWriter writer, string name, DateTimeOffset? value)
    {
        if (value is { } v)
        {
            writer.WriteString(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
