using System.Text;

namespace FakeOpenAi.Wire;

/// <summary>
/// <c>x-fake-usage: RAW</c> replaces the value of the first non-null <c>"usage"</c> object in a JSON body or event
/// with RAW, byte for byte (no re-serialisation, so odd numbers and duplicate keys survive);
/// <c>x-fake-duplicate-usage: RAW</c> also appends a second <c>"usage"</c> key after it. For robustness tests: an
/// OpenAI-compatible service, a proxy or a bug can send any of these.
/// </summary>
internal static class UsageOverride
{
    public static ReadOnlyMemory<byte> Apply(HttpRequest request, ReadOnlyMemory<byte> json)
    {
        var raw = request.Headers["x-fake-usage"].ToString();
        var duplicate = request.Headers["x-fake-duplicate-usage"].ToString();
        if (raw.Length == 0 && duplicate.Length == 0)
        {
            return json;
        }

        var span = json.Span;
        var start = span.IndexOf("\"usage\":{"u8);
        if (start < 0)
        {
            return json;
        }

        var valueStart = start + "\"usage\":"u8.Length;
        var depth = 0;
        var end = valueStart;
        var inString = false;
        for (; end < span.Length; end++)
        {
            var b = span[end];
            if (inString)
            {
                if (b == (byte)'\\')
                {
                    end++;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
            }
            else if (b == (byte)'{')
            {
                depth++;
            }
            else if (b == (byte)'}' && --depth == 0)
            {
                end++;
                break;
            }
        }

        var value = raw.Length > 0 ? Encoding.UTF8.GetBytes(raw) : span[valueStart..end].ToArray();
        var extra = duplicate.Length > 0 ? Encoding.UTF8.GetBytes(",\"usage\":" + duplicate) : [];
        var result = new byte[valueStart + value.Length + extra.Length + (span.Length - end)];
        span[..valueStart].CopyTo(result);
        value.CopyTo(result.AsSpan(valueStart));
        extra.CopyTo(result.AsSpan(valueStart + value.Length));
        span[end..].CopyTo(result.AsSpan(valueStart + value.Length + extra.Length));
        return result;
    }
}
