using System.Text;
using OpenAiRelay.Isolation;

namespace OpenAiRelay.Tests.Isolation;

/// <summary>The client's WebSocket frames as the isolation check reads them: unmasked, whole, split anywhere; audio left alone.</summary>
public sealed class WebSocketTextMessagesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public async Task AMaskedTextMessageInTwoFrames_IsCheckedWhole_WhereverTheBytesAreSplit(int chunk)
    {
        var text = """{"type":"response.create","previous_response_id":"resp_abc"}""";
        var bytes = Frame(0x01, Encoding.UTF8.GetBytes(text[..20]), mask: 0x11223344)
            .Concat(Frame(0x89, "ping"u8.ToArray(), mask: 0x01020304))
            .Concat(Frame(0x80, Encoding.UTF8.GetBytes(text[20..]), mask: 0x55667788)).ToArray();
        var seen = new List<(string Text, bool Whole)>();
        var messages = new WebSocketTextMessages((message, whole) =>
        {
            seen.Add((Encoding.UTF8.GetString(message.Span), whole));
            return ValueTask.CompletedTask;
        });

        for (var at = 0; at < bytes.Length; at += chunk)
        {
            await messages.ObserveAsync(bytes.AsMemory(at, Math.Min(chunk, bytes.Length - at)));
        }

        Assert.Equal([(text, true)], seen);
    }

    [Fact]
    public async Task AnAudioAppend_IsNotAssembledOrChecked_AndTheNextEventIs()
    {
        var audio = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"" + new string('A', 50_000) + "\"}";
        var next = """{"type":"response.create"}""";
        var seen = new List<string>();
        var messages = new WebSocketTextMessages((message, _) =>
        {
            seen.Add(Encoding.UTF8.GetString(message.Span));
            return ValueTask.CompletedTask;
        });

        await messages.ObserveAsync(Frame(0x81, Encoding.UTF8.GetBytes(audio), mask: 0x0badf00d).Concat(Frame(0x81, Encoding.UTF8.GetBytes(next), mask: 0x12345678)).ToArray());

        Assert.Equal([next], seen);
    }

    private static byte[] Frame(byte first, byte[] payload, uint mask)
    {
        var header = new List<byte> { first };
        if (payload.Length < 126)
        {
            header.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            header.AddRange([0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length]);
        }

        var key = new[] { (byte)(mask >> 24), (byte)(mask >> 16), (byte)(mask >> 8), (byte)mask };
        header.AddRange(key);
        return [.. header, .. payload.Select((b, i) => (byte)(b ^ key[i % 4]))];
    }
}
