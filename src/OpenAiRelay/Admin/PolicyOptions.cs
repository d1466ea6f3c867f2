using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenAiRelay.Policy;

namespace OpenAiRelay.Admin;

/// <summary>
/// The policy flags of <c>keys create</c> and <c>keys set</c> (<c>--rpm</c>, <c>--max-concurrent</c>,
/// <c>--endpoints</c>; <c>none</c> clears one). They become the same JSON object the admin API takes, read by
/// <see cref="KeyPolicyJson.Read"/>, so the CLI and the API hold a policy to the same rules with the same messages.
/// </summary>
internal sealed class PolicyOptions
{
    private readonly Option<string?> _rpm = new("--rpm") { Description = "Requests per minute (a bucket refilled continuously), or none." };
    private readonly Option<string?> _maxConcurrent = new("--max-concurrent") { Description = "Requests and WebSocket sessions in flight at once, or none." };
    private readonly Option<string?> _endpoints = new("--endpoints") { Description = "Comma-separated /v1 path prefixes the key may call (/v1/chat,/v1/responses), or none." };

    public void AddTo(Command command)
    {
        command.Options.Add(_rpm);
        command.Options.Add(_maxConcurrent);
        command.Options.Add(_endpoints);
    }

    /// <summary>True when any policy flag was given.</summary>
    public bool AnyGiven(ParseResult parse) =>
        parse.GetValue(_rpm) is not null || parse.GetValue(_maxConcurrent) is not null || parse.GetValue(_endpoints) is not null;

    /// <summary>Applies the given flags to <paramref name="policy"/>.</summary>
    /// <exception cref="AdminUsageException">A value the policy rules refuse, with the rule.</exception>
    public KeyPolicy Apply(ParseResult parse, KeyPolicy policy)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            WriteNumber(writer, "rpm", "--rpm", parse.GetValue(_rpm));
            WriteNumber(writer, "max_concurrent", "--max-concurrent", parse.GetValue(_maxConcurrent));
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
