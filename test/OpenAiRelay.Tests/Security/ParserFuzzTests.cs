using System.Text;
using System.Text.Json;
using CsCheck;
using Microsoft.AspNetCore.Http;
using OpenAiRelay.Authentication;
using OpenAiRelay.Metering;
using OpenAiRelay.Tests.Infrastructure;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// Property-based fuzzing (CsCheck) of every parser that reads untrusted bytes: client headers and tokens, request
/// bodies, and the upstream's response bodies and WebSocket frames. Inputs are capped in size; the properties are
/// "never throws", "passes bytes through unchanged where it promises to" and "keeps what it holds bounded".
/// </summary>
public sealed class ParserFuzzTests
{
    private const int Iterations = 400;

    /// <summary>Fragments that make random bytes look like SSE and JSON often enough to reach the interesting paths.</summary>
    private static readonly string[] s_sseFragments =
    [
        "data: ", "data:", "\n", "\r\n", "\n\n", "\r\n\r\n", "event: response.completed\n", ": keep-alive\n\n", "data: [DONE]\n\n",
        "{", "}", "[", "]", ",", ":", "\"usage\"", "\"usage\":null", "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}",
        "\"choices\":[]", "\"choices\":[{\"delta\":{\"content\":\"hi\"}}]", "\"model\":\"gpt-4o\"", "\"response\":{", "\"delta\":\"x\"",
        "\"prompt_tokens\":", "\"input_tokens_details\":{\"cached_tokens\":3}", "99999999999999999999", "-1", "1e309", "null", "true",
        "\"\\ud800\"", "\"\\u0000\"", "\"", "\\", "\u00e9", "\uFFFD",
    ];

    private static readonly Gen<byte[]> s_sseLike = Gen.OneOf(
        Gen.Byte.Array[0, 600],
        Gen.Int[0, s_sseFragments.Length - 1].Array[0, 60].Select(ids => Encoding.UTF8.GetBytes(string.Concat(ids.Select(i => s_sseFragments[i])))));

    private static readonly Gen<int[]> s_splits = Gen.Int[1, 64].Array[1, 40];

    [Fact]
    public void SseBodyMeter_ObserveMode_ArbitraryBytesAndSplits_OutputEqualsInput()
    {
        Gen.Select(s_sseLike, s_splits).Sample((input, splits) =>
        {
            var (output, _) = RunMeter(w => new SseBodyMeter(w, trimInjectedUsage: false), input, splits);
            Assert.Equal(input, output);
        }, iter: Iterations);
    }

    [Fact]
    public void SseBodyMeter_TrimMode_ArbitraryBytesAndSplits_NeverThrowsNeverGrowsAndIgnoresTheSplit()
    {
        Gen.Select(s_sseLike, s_splits).Sample((input, splits) =>
        {
            var (output, _) = RunMeter(w => new SseBodyMeter(w, trimInjectedUsage: true), input, splits);
            var (whole, _) = RunMeter(w => new SseBodyMeter(w, trimInjectedUsage: true), input, [int.MaxValue]);
            Assert.True(output.Length <= input.Length);
            Assert.Equal(whole, output);
            if (input.AsSpan().IndexOf("usage"u8) < 0)
            {
                Assert.Equal(input, output);
            }
        }, iter: Iterations);
    }

    [Fact]
    public void SseBodyMeter_TrimMode_RemovesOnlyWholeUsageOnlyEvents()
    {
        // Well-formed streams built from random events: what trim mode drops is exactly the usage-only chunks.
        var events = new[]
        {
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n",
            ": comment\n\n",
            "event: x\ndata: {\"y\":1}\n\n",
            "data: [DONE]\n\n",
        };
        Gen.Select(Gen.Int[0, events.Length - 1].Array[0, 12], s_splits).Sample((ids, splits) =>
        {
            var input = Encoding.UTF8.GetBytes(string.Concat(ids.Select(i => events[i])));
            var expected = Encoding.UTF8.GetBytes(string.Concat(ids.Where(i => i != 1).Select(i => events[i])));
            var (output, walker) = RunMeter(w => new SseBodyMeter(w, trimInjectedUsage: true), input, splits);
            Assert.Equal(expected, output);
            Assert.Equal(ids.Contains(1) ? new TokenUsage(1, 0, 2, 0) : null, walker.Usage);
        }, iter: Iterations);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SseBodyMeter_EventThatNeverEnds_IsNotHeldWithoutBound(bool trim)
    {
        var meter = new SseBodyMeter(new UsageWalker(), trim);
        var chunk = Encoding.ASCII.GetBytes("data: {\"x\":\"" + new string('a', 64 * 1024));
        long passed = 0;
        for (var i = 0; i < (SseBodyMeter.MaxHeldBytes / chunk.Length) + 16; i++)
        {
            passed += meter.OnWrite(chunk).Length;
            Assert.True(meter.HeldBytes <= SseBodyMeter.MaxHeldBytes, $"holding {meter.HeldBytes} bytes");
        }

        passed += meter.OnEnd().Length;
        // Nothing is lost either: once the meter gives up on the event, every byte still reaches the client.
        Assert.Equal(((SseBodyMeter.MaxHeldBytes / chunk.Length) + 16) * (long)chunk.Length, passed);
    }

    [Fact]
    public void JsonBodyMeter_ArbitraryAndGarbageJson_NeverThrowsAndPassesEveryByte()
    {
        var garbageJson = Gen.OneOf(
            Gen.Byte.Array[0, 800],
            Gen.Int[0, s_sseFragments.Length - 1].Array[0, 80].Select(ids => Encoding.UTF8.GetBytes(string.Concat(ids.Select(i => s_sseFragments[i])))),
            Gen.Int[0, 3000].Select(depth => Encoding.ASCII.GetBytes(new string('[', depth) + "{\"usage\":{\"prompt_tokens\":1}}" + new string(']', depth))),
            Gen.Int[0, 3000].Select(depth => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"usage\":", depth)) + "1" + new string('}', depth))));
        Gen.Select(garbageJson, s_splits).Sample((input, splits) =>
        {
            var (output, _) = RunMeter(w => new JsonBodyMeter(w), input, splits);
            Assert.Equal(input, output);
        }, iter: Iterations);
    }

    [Fact]
    public void UsageWalker_ArbitraryTokens_NeverThrows()
    {
        s_sseLike.Sample(input =>
        {
            var walker = new UsageWalker();
            walker.BeginEvent();
            var reader = new Utf8JsonReader(input, new JsonReaderOptions { MaxDepth = 256 });
            walker.Walk(ref reader);
            // What the walker keeps of streamed text is text it read: never more than the input held.
            Assert.True(walker.DeltaText.Length <= input.Length);
        }, iter: Iterations);
    }

    [Fact]
    public void UsageWalker_StreamedText_IsKeptExactlyUpToItsCap()
    {
        // Inputs big enough to reach the 512 Ki-character cap, so the cap itself is under test: every character of text
        // below it is kept, in order, and nothing beyond it.
        const int cap = 512 * 1024;
        Gen.Int[1, 200_000].Array[1, 8].Sample(sizes =>
        {
            var walker = new UsageWalker();
            var expected = new StringBuilder();
            for (var i = 0; i < sizes.Length; i++)
            {
                var text = new string((char)('a' + i), sizes[i]);
                expected.Append(text);
                var json = Encoding.UTF8.GetBytes("{\"choices\":[{\"delta\":{\"content\":\"" + text + "\"}}]}");
                walker.BeginEvent();
                var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
                walker.Walk(ref reader);
            }

            var kept = expected.ToString(0, Math.Min(expected.Length, cap));
            Assert.Equal(kept.Length, walker.DeltaText.Length);
            Assert.Equal(kept, walker.DeltaText.ToString());
        }, iter: 40);
    }

    [Fact]
    public void WebSocketUsageMeter_ArbitraryFrameStreams_NeverThrow()
    {
        var frame = Gen.Select(Gen.Byte, Gen.Byte, Gen.Byte.Array[0, 12], Gen.Byte.Array[0, 300])
            .Select((b0, b1, extended, payload) => (byte[])[b0, b1, .. extended, .. payload]);
        var stream = Gen.OneOf(Gen.Byte.Array[0, 2000], frame.Array[0, 20].Select(frames => frames.SelectMany(f => f).ToArray()));
        Gen.Select(stream, s_splits).Sample((input, splits) =>
        {
            var meter = new RequestMeter("/realtime", expectsUsage: true);
            var observer = new WebSocketUsageMeter(meter);
            var position = 0;
            var i = 0;
            while (position < input.Length)
            {
                var size = Math.Min(input.Length - position, splits[i++ % splits.Length]);
                observer.Observe(input.AsSpan(position, size));
                position += size;
            }
        }, iter: Iterations);
    }

    [Fact]
    public void WebSocketUsageMeter_ResponseDoneAmongNoise_IsCounted()
    {
        var done = Encoding.UTF8.GetBytes("{\"type\":\"response.done\",\"response\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}");
        byte[] Text(byte[] payload) => [0x81, (byte)payload.Length, .. payload];
        var noise = Gen.OneOf(
            Gen.Byte.Array[0, 100].Select(p => (byte[])[0x82, (byte)p.Length, .. p]),
            Gen.Byte.Array[0, 100].Select(p => (byte[])[0x89, (byte)Math.Min(p.Length, 125), .. p.Take(125)]),
            Gen.Const(Text(done)));
        Gen.Select(noise.Array[0, 10], s_splits).Sample((frames, splits) =>
        {
            var meter = new RequestMeter("/realtime", expectsUsage: true);
            var observer = new WebSocketUsageMeter(meter);
            var input = frames.SelectMany(f => f).ToArray();
            var position = 0;
            var i = 0;
            while (position < input.Length)
            {
                var size = Math.Min(input.Length - position, splits[i++ % splits.Length]);
                observer.Observe(input.AsSpan(position, size));
                position += size;
            }

            var expected = frames.Count(f => f.AsSpan().SequenceEqual(Text(done)));
            Assert.Equal(expected == 0 ? null : new TokenUsage(3 * expected, 0, 4 * expected, 0), meter.SessionUsage);
        }, iter: Iterations);
    }

    [Fact]
    public void BearerToken_ArbitraryHeaders_AcceptOnlyVisibleAsciiUpToTheLimit()
    {
        var header = Gen.OneOf(
            Gen.String[Gen.Char, 0, 700],
            Gen.String[Gen.Char[' ', '~'], 0, 700].Select(s => "Bearer " + s),
            Gen.String[Gen.Char, 0, 600].Select(s => "bEaReR " + s));
        header.Sample(value =>
        {
            if (BearerToken.TryParseAuthorization(value, out var token))
            {
                Assert.InRange(token.Length, 1, BearerToken.MaxLength);
                foreach (var c in token)
                {
                    Assert.InRange(c, '!', '~');
                }

                Assert.True(value.EndsWith(token, StringComparison.Ordinal));
            }

            if (BearerToken.TryReadFromWebSocketProtocol(new Microsoft.Extensions.Primitives.StringValues(["realtime, openai-insecure-api-key." + value, value]), out var fromProtocol))
            {
                Assert.InRange(fromProtocol.Length, 1, BearerToken.MaxLength);
            }
        }, iter: Iterations * 5);
    }

    [Fact]
    public void BearerToken_EveryWellFormedHeader_IsAcceptedWithItsExactToken()
    {
        // The other side of the property above: a parser that rejected everything would pass that one.
        var scheme = Gen.OneOfConst("Bearer ", "bearer ", "BEARER ", "bEaReR ");
        var token = Gen.String[Gen.Char['!', '~'], 1, BearerToken.MaxLength];
        Gen.Select(scheme, token).Sample((prefix, value) =>
        {
            Assert.True(BearerToken.TryParseAuthorization(prefix + value, out var parsed), $"refused a well-formed token of {value.Length} chars");
            Assert.Equal(value, parsed.ToString());
        }, iter: Iterations * 5);
    }

    [Fact]
    public void ClientKeyToken_EveryGeneratedToken_ParsesToItsKeyId_AndOneCharacterLessDoesNot()
    {
        Gen.Int[0, ClientKeyToken.Length - 1].Sample(cut =>
        {
            var (keyId, token) = ClientKeyToken.Generate();
            Assert.True(ClientKeyToken.TryParse(token, out var parsed));
            Assert.Equal(keyId, parsed.ToString());
            Assert.False(ClientKeyToken.TryParse(token.Remove(cut, 1), out _));
        }, iter: Iterations);
    }

    [Fact]
    public void ClientKeyToken_ArbitraryStrings_AcceptOnlyTheExactShape()
    {
        var alphabet = Gen.Char["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_' %\0\u00e9"];
        var candidate = Gen.OneOf(
            Gen.String[Gen.Char, 0, 100],
            Gen.String[alphabet, 40, 70].Select(s => "rk_live_" + s),
            Gen.String[alphabet, 59, 59]);
        candidate.Sample(token =>
        {
            if (ClientKeyToken.TryParse(token, out var keyId))
            {
                Assert.Equal(ClientKeyToken.Length, token.Length);
                Assert.StartsWith(ClientKeyToken.Prefix, token, StringComparison.Ordinal);
                Assert.True(ClientKeyToken.IsKeyId(keyId));
                Assert.All(token[ClientKeyToken.Prefix.Length..].Replace("_", string.Empty, StringComparison.Ordinal), c => Assert.True(char.IsAsciiLetterOrDigit(c)));
            }

            // Hashing is only reached for parsed tokens, but must not fail on anything.
            Assert.Equal(32, ClientKeyToken.Hash(new byte[32], token).Length);
        }, iter: Iterations * 5);
    }

    private static readonly string[] s_bodyParts =
    [
        "\"model\":\"gpt-4o-mini\"", "\"stream\":true", "\"stream\":false", "\"stream\":\"yes\"", "\"stream_options\":{}",
        "\"stream_options\":{\"include_usage\":false}", "\"stream_options\":{\"include_usage\":true}", "\"stream_options\":null",
        "\"stream_options\":[]", "\"stream_options\":{\"x\":[1,{\"y\":2}]}", "\"messages\":[{\"role\":\"user\",\"content\":\"hi \\ud800 \\u0000\"}]",
        "\"n\":128", "\"x\":" + new string('[', 70) + new string(']', 70), "\"deep\":" + new string('[', 63) + new string(']', 63),
        "\"model\":\"a\"", "\"stream\":true", "\"a\":1e999", "\"\":\"\"",
    ];

    [Fact]
    public async Task RequestBodyInspector_ArbitraryJsonBodies_NeverThrowsAndInjectionKeepsJsonValid()
    {
        var objectBody = Gen.Int[0, s_bodyParts.Length - 1].Array[0, 8].Select(ids => "{" + string.Join(',', ids.Select(i => s_bodyParts[i])) + "}");
        var body = Gen.OneOf(
            objectBody,
            objectBody.Select(Gen.String[Gen.Char, 0, 20], (json, tail) => json + tail),
            Gen.String[Gen.Char, 0, 300],
            Gen.Int[0, s_sseFragments.Length - 1].Array[0, 40].Select(ids => string.Concat(ids.Select(i => s_sseFragments[i]))));
        var endpoint = Gen.OneOfConst("/chat/completions", "/completions", "/responses", "/embeddings");
        await Task.Run(() => Gen.Select(body, endpoint).Sample((json, path) =>
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            var (meter, forwarded, context) = Inspect(bytes, path);
            Assert.NotNull(forwarded);
            Assert.Equal(forwarded.Length, context.Request.ContentLength);
            if (!meter.InjectedUsage)
            {
                Assert.Equal(bytes, forwarded);
                return;
            }

            Assert.True(path is "/chat/completions" or "/completions");
            if (IsJson(bytes))
            {
                using var rewritten = JsonDocument.Parse(forwarded, new JsonDocumentOptions { MaxDepth = 256 });
                var usage = rewritten.RootElement.EnumerateObject().Last(p => p.NameEquals("stream_options")).Value;
                Assert.True(usage.GetProperty("include_usage").GetBoolean());
            }
        }, iter: Iterations * 2));
    }

    /// <summary>Members that are plain, readable JSON: with them the relay has no reason not to inject usage.</summary>
    private static readonly string[] s_plainParts =
    [
        "\"model\":\"gpt-4o-mini\"", "\"messages\":[{\"role\":\"user\",\"content\":\"hi \\u00e9 \\\"x\\\"\"}]", "\"n\":2",
        "\"temperature\":0.5", "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "\"user\":null", "\"seed\":-7",
        "\"deep\":" + new string('[', 40) + new string(']', 40), "\"metadata\":{\"k\":\"v\"}",
    ];

    [Fact]
    public async Task RequestBodyInspector_EveryPlainStreamingChatBody_GetsUsageInjected_AndNothingElseChanges()
    {
        // The other side of the property above: an inspector that never injected would pass that one.
        var options = Gen.OneOfConst(string.Empty, "\"stream_options\":{}", "\"stream_options\":{\"include_usage\":false}", "\"stream_options\":{\"include_obfuscation\":true}");
        var members = Gen.Int[0, s_plainParts.Length - 1].Array[0, 6].Select(ids => ids.Distinct().Select(i => s_plainParts[i]).ToArray());
        var position = Gen.Int[0, 7];
        var endpoint = Gen.OneOfConst("/chat/completions", "/completions");
        await Task.Run(() => Gen.Select(members, options, position, endpoint).Sample((parts, option, at, path) =>
        {
            var list = parts.ToList();
            list.Insert(Math.Min(at, list.Count), "\"stream\":true");
            if (option.Length > 0)
            {
                list.Insert(Math.Min(at / 2, list.Count), option);
            }

            var bytes = Encoding.UTF8.GetBytes("{" + string.Join(',', list) + "}");
            var (meter, forwarded, context) = Inspect(bytes, path);
            Assert.True(meter.InjectedUsage, "a plain streaming body did not get usage: " + Encoding.UTF8.GetString(bytes));
            Assert.True(meter.Stream);
            using var sent = JsonDocument.Parse(bytes);
            using var rewritten = JsonDocument.Parse(forwarded!);
            Assert.True(rewritten.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
            Assert.Equal(JsonCanonical.Members(sent.RootElement, except: "stream_options"), JsonCanonical.Members(rewritten.RootElement, except: "stream_options"));
            var sentOptions = sent.RootElement.TryGetProperty("stream_options", out var o) ? JsonCanonical.Members(o, except: "include_usage") : [];
            Assert.Equal(sentOptions, JsonCanonical.Members(rewritten.RootElement.GetProperty("stream_options"), except: "include_usage"));
        }, iter: Iterations));
    }

    private static (RequestMeter Meter, byte[]? Forwarded, HttpContext Context) Inspect(byte[] bytes, string path)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = bytes.Length;
        context.Request.Body = new MemoryStream(bytes);
        var meter = new RequestMeter(path, expectsUsage: true);
        return (meter, RequestBodyInspector.InspectAsync(context, meter).GetAwaiter().GetResult(), context);
    }

    private static bool IsJson(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 });
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static (byte[] Output, UsageWalker Walker) RunMeter(Func<UsageWalker, IResponseBodyMeter> create, byte[] input, int[] splits)
    {
        var walker = new UsageWalker();
        var meter = create(walker);
        var output = new MemoryStream();
        var position = 0;
        var i = 0;
        while (position < input.Length)
        {
            var size = Math.Min(input.Length - position, splits[i++ % splits.Length]);
            output.Write(meter.OnWrite(input.AsMemory(position, size).ToArray()).Span);
            position += size;
        }

        output.Write(meter.OnEnd().Span);
        return (output.ToArray(), walker);
    }
}
