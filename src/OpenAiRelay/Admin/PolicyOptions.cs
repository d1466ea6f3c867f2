using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Admin;

/// <summary>
/// The policy flags of <c>keys create</c> and <c>keys set</c> (<c>--rpm</c>, <c>--tpm</c>, <c>--max-concurrent</c>,
/// <c>--budget-usd</c>, <c>--budget-period</c>, <c>--budget-mode</c>, <c>--models</c>, <c>--endpoints</c>; <c>none</c>
/// clears one). They become the same JSON object the admin API takes, read by
/// <see cref="KeyPolicyJson.Read"/>, so the CLI and the API hold a policy to the same rules with the same messages.
/// </summary>
internal sealed class PolicyOptions
{
    private readonly Option<string?> _rpm = new("--rpm") { Description = "Requests per minute (a bucket refilled continuously), or none." };
    private readonly Option<string?> _tpm = new("--tpm") { Description = "Input plus output tokens per minute (reserved at admission, settled to the real usage), or none." };
    private readonly Option<string?> _maxConcurrent = new("--max-concurrent") { Description = "Requests and WebSocket sessions in flight at once, or none." };
    private readonly Option<string?> _budgetUsd = new("--budget-usd") { Description = "Dollars the key may spend per budget period (20, 0.5), or none." };
    private readonly Option<string?> _budgetPeriod = new("--budget-period") { Description = "day, week or month (UTC calendar periods) or total; month when not given." };
    private readonly Option<string?> _budgetMode = new("--budget-mode") { Description = "reserve (default), or strict: refuse generations without an output cap, so the budget is never overshot." };
    private readonly Option<string?> _models = new("--models") { Description = "Comma-separated models the key may use, a trailing * matching any suffix (gpt-4o-mini,gpt-4.1*), or none." };
    private readonly Option<string?> _endpoints = new("--endpoints") { Description = "Comma-separated /v1 path prefixes the key may call (/v1/chat,/v1/responses), or none." };

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>True when any policy flag was given.</summary>
    public bool AnyGiven(ParseResult parse) => All.Any(option => parse.GetValue(option) is not null);

    private Option<string?>[] All => [_rpm, _tpm, _maxConcurrent, _budgetUsd, _budgetPeriod, _budgetMode, _models, _endpoints];

    /// <summary>Applies the given flags to <paramref name="policy"/>.</summary>
    /// <exception cref="AdminUsageException">A value the policy rules refuse, with the rule.</exception>
    public KeyPolicy Apply(ParseResult parse, KeyPolicy policy)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            WriteNumber(writer, "rpm", "--rpm", parse.GetValue(_rpm));
            WriteNumber(writer, "tpm", "--tpm", parse.GetValue(_tpm));
            WriteNumber(writer, "max_concurrent", "--max-concurrent", parse.GetValue(_maxConcurrent));
            WriteDollars(writer, "budget_usd", "--budget-usd", parse.GetValue(_budgetUsd));
            WriteText(writer, "budget_period", parse.GetValue(_budgetPeriod));
            WriteText(writer, "budget_mode", parse.GetValue(_budgetMode));
            WriteList(writer, "models", parse.GetValue(_models));
            WriteList(writer, "endpoints", parse.GetValue(_endpoints));
            writer.WriteEndObject();
        }

        try
        {
            using var changes = JsonDocument.Parse(buffer.WrittenMemory);
            return KeyPolicyJson.Read(changes.RootElement, policy);
        }
        catch (FormatException e)
        {
            throw new AdminUsageException(e.Message);
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, string field, string flag, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (IsNone(value))
        {
            writer.WriteNull(field);
        }
        else if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            writer.WriteNumber(field, number);
        }
        else
        {
            throw new AdminUsageException($"{flag} must be a whole number or none");
        }
    }

    private static void WriteDollars(Utf8JsonWriter writer, string field, string flag, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (IsNone(value))
        {
            writer.WriteNull(field);
        }
        else if (decimal.TryParse(value.TrimStart('$'), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var dollars))
        {
            writer.WriteNumber(field, dollars);
        }
        else
        {
            throw new AdminUsageException($"{flag} must be a number of dollars (20, 0.5) or none");
        }
    }

    private static void WriteText(Utf8JsonWriter writer, string field, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(field, value);
        }
    }

    private static void WriteList(Utf8JsonWriter writer, string field, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (IsNone(value))
        {
            writer.WriteNull(field);
            return;
        }

        writer.WriteStartArray(field);
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            writer.WriteStringValue(item);
        }

        writer.WriteEndArray();
    }

    private static bool IsNone(string value) => value.Equals("none", StringComparison.OrdinalIgnoreCase);
}
