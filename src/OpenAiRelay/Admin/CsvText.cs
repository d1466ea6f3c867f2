using System.Globalization;
using System.Text;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>
/// Ledger rows as CSV (RFC 4180): comma-separated, CRLF line ends, a field quoted when it holds a comma, quote or line
/// break. Key and model names are the clients' and the operators' text, so a field a spreadsheet would read as a formula
/// (starting with <c>= + - @</c>, a tab or a carriage return) is prefixed with <c>'</c> and shown as text (CSV injection).
/// </summary>
internal static class CsvText
{
    public const string Header =
        "request_id,started_at,key,key_label,model,endpoint,method,status,outcome,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,estimated,cost_micros,cost_usd,latency_ms,ttft_ms\r\n";

    public static string Row(UsageRow row)
    {
        var line = new StringBuilder(256);
        Field(line, row.RequestId).Append(',');
        Field(line, row.StartedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)).Append(',');
        Field(line, row.KeyName).Append(',');
        Field(line, row.KeyLabel).Append(',');
        Field(line, row.Model).Append(',');
        Field(line, row.Endpoint).Append(',');
        Field(line, row.Method).Append(',');
        line.Append(row.Status.ToString(CultureInfo.InvariantCulture)).Append(',');
        Field(line, row.Outcome).Append(',');
        line.Append(row.InputTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.CachedInputTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.OutputTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.ReasoningTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.Estimated ? "true" : "false").Append(',')
            .Append(row.CostMicros?.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.CostMicros is { } cost ? AdminJson.FormatUsd(cost) : null).Append(',')
            .Append(row.LatencyMs.ToString(CultureInfo.InvariantCulture)).Append(',')
            .Append(row.FirstByteMs?.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        return line.ToString();
    }

    internal static StringBuilder Field(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return line;
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            return line.Append(value);
        }

        return line.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}
