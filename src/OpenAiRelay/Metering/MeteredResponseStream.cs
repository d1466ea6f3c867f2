using Microsoft.Net.Http.Headers;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Metering;

/// <summary>
/// The response body of a request the relay reads: it hands each write to a body meter chosen at the first write from
/// the headers the upstream answered with (by then YARP has copied them), and passes on what the meter returns. An
/// event stream gets an <see cref="SseBodyMeter"/>, JSON a <see cref="JsonBodyMeter"/>, anything else no meter; a body
/// the upstream compressed although the relay asked for identity cannot be read, so its row becomes an estimate.
/// </summary>
internal sealed class MeteredResponseStream(Stream inner, HttpResponse response, RequestMeter meter) : DelegatingStream(inner)
{
    private IResponseBodyMeter? _bodyMeter;
    private bool _chosen;

    public override bool CanRead => false;

    public override int Read(Span<byte> buffer) => throw new NotSupportedException();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (BodyMeter is { } bodyMeter)
        {
            Inner.Write(bodyMeter.OnWrite(buffer.ToArray()).Span);
            return;
        }

        Inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (BodyMeter is not { } bodyMeter)
        {
            return Inner.WriteAsync(buffer, cancellationToken);
        }

        var outgoing = bodyMeter.OnWrite(buffer);
        // An empty result for a non-empty write: the meter holds an incomplete event of a trimmed stream.
        return outgoing.IsEmpty && !buffer.IsEmpty ? ValueTask.CompletedTask : Inner.WriteAsync(outgoing, cancellationToken);
    }

    /// <summary>The upstream body ended: meter the last bytes and send anything the meter still held.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_bodyMeter is not { } bodyMeter)
        {
            return;
        }

        _bodyMeter = null;
        var tail = bodyMeter.OnEnd();
        if (!tail.IsEmpty)
        {
            await Inner.WriteAsync(tail, cancellationToken);
        }
    }

    private IResponseBodyMeter? BodyMeter
    {
        get
        {
            if (!_chosen)
            {
                _chosen = true;
                _bodyMeter = Choose();
            }

            return _bodyMeter;
        }
    }

    private IResponseBodyMeter? Choose()
    {
        if (response.Headers.ContainsKey(HeaderNames.ContentEncoding))
        {
            return null;
        }

        var contentType = response.ContentType.AsSpan();
        var parameters = contentType.IndexOf(';');
        var mediaType = (parameters < 0 ? contentType : contentType[..parameters]).Trim();
        return mediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase) ? new SseBodyMeter(meter.Walker, meter.InjectedUsage)
            : mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ? new JsonBodyMeter(meter.Walker)
            : null;
    }
}
