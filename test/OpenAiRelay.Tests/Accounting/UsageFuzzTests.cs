using System.Globalization;
using System.Text;
using CsCheck;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Tests.Accounting;

/// <summary>
/// Usage objects are untrusted input: whatever numbers, strings, duplicates or nesting an upstream sends, the meter
/// never throws and either reads nothing (the row becomes a flagged estimate) or reads sane numbers; and a valid
/// usage object, however the body is split, is read exactly.
/// </summary>
public sealed class UsageFuzzTests
{
    private static readonly string[] s_fields = ["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "total_tokens", "seconds", "type"];

    private static readonly Gen<string> s_value = Gen.OneOf(
        Gen.Long.Select(v => v.ToString(CultureInfo.InvariantCulture)),
        Gen.Long[0, 2_000_000].Select(v => v.ToString(CultureInfo.InvariantCulture)),
        Gen.Double.Select(v => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "1.5"),
        Gen.Const("1e15"), Gen.Const("2e3"), Gen.Const("1000.0"), Gen.Const("99999999999999999999999"), Gen.Const("-0"),
        Gen.Const("\"1000\""), Gen.Const("true"), Gen.Const("null"), Gen.Const("{}"), Gen.Const("[1]"), Gen.Const("\"duration\""),
        Gen.Long[0, 100].Select(v => $"{{\"cached_tokens\":{v},\"reasoning_tokens\":{v}}}"));

    private static readonly Gen<string> s_usage =
        Gen.Select(Gen.Int[0, s_fields.Length + 1], s_value).Array[0, 8].Select(fields => "{" + string.Join(',', fields.Select(f =>
            $"\"{(f.Item1 < s_fields.Length ? s_fields[f.Item1] : f.Item1 == s_fields.Length ? "prompt_tokens_details" : "completion_tokens_details")}\":{f.Item2}")) + "}");

    private static readonly Gen<int[]> s_splits = Gen.Int[1, 200].Array[1, 20];

    private static TokenUsage? Meter(byte[] body, int[] splits)
    {
        var walker = new UsageWalker();
        var meter = new JsonBodyMeter(walker);
        var offset = 0;
        foreach (var size in splits.Concat(Enumerable.Repeat(64, body.Length / 64 + 1)))
        {
            if (offset >= body.Length)
            {
                break;
            }

            var take = Math.Min(size, body.Length - offset);
            meter.OnWrite(body.AsMemory(offset, take));
            offset += take;
        }

        return walker.Usage;
    }

    [Fact]
    public void AnyUsageObject_IsEitherUnreadOrSane()
    {
        Gen.Select(s_usage, Gen.Bool, s_splits).Sample((usage, duplicate, splits) =>
        {
            var body = Encoding.UTF8.GetBytes("{\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":" + usage
                + (duplicate ? ",\"usage\":" + usage : string.Empty) + "}");
            if (Meter(body, splits) is { } read)
            {
                Assert.False(duplicate, "a duplicated usage key was read");
                Assert.InRange(read.Input, 0, UsageLimits.MaxTokens);
                Assert.InRange(read.Output, 0, UsageLimits.MaxTokens);
                Assert.InRange(read.Cached, 0, read.Input);
                Assert.InRange(read.Reasoning, 0, read.Output);
                Assert.InRange(read.AudioMilliseconds, 0, (long)UsageLimits.MaxAudioSeconds * 1000);
            }
        }, iter: 2000);
    }

    [Fact]
    public void ValidUsageObject_IsReadExactlyHoweverSplit()
    {
        Gen.Select(Gen.Long[0, UsageLimits.MaxTokens], Gen.Long[0, UsageLimits.MaxTokens], Gen.Double[0, 1], Gen.Double[0, 1], s_splits)
            .Sample((input, output, cachedShare, reasoningShare, splits) =>
            {
                var cached = (long)(input * cachedShare);
                var reasoning = (long)(output * reasoningShare);
                var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o-mini\",\"usage\":{{\"prompt_tokens\":{input},\"completion_tokens\":{output},\"total_tokens\":{input + output},\"prompt_tokens_details\":{{\"cached_tokens\":{cached}}},\"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning}}}}}}}"));
                Assert.Equal(new TokenUsage(input, cached, output, reasoning), Meter(body, splits));
            }, iter: 2000);
    }
}
