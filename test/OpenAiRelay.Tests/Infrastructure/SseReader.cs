using System.Diagnostics;
using System.Text;

namespace OpenAiRelay.Tests.Infrastructure;

/// <summary>Reads an SSE body event by event as bytes arrive, noting when each event was complete.</summary>
public static class SseReader
{
    public sealed record TimedEvent(string Text, TimeSpan ArrivedAt);

    public static async Task<List<TimedEvent>> ReadEventsAsync(Stream body, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var events = new List<TimedEvent>();
        var pending = new StringBuilder();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            pending.Append(Encoding.UTF8.GetString(buffer, 0, read));
            var text = pending.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
            int end;
            while ((end = text.IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
            {
                events.Add(new TimedEvent(text[..end], clock.Elapsed));
                text = text[(end + 2)..];
            }

            pending.Clear().Append(text);
        }

        return events;
    }
}
