namespace OpenAiRelay.Metering;

/// <summary>Observes (and, for injected usage, trims) the response body on its way to the client.</summary>
internal interface IResponseBodyMeter
{
    /// <summary>Returns the bytes to send for <paramref name="chunk"/>: the chunk itself unless the meter trims the stream.</summary>
    ReadOnlyMemory<byte> OnWrite(ReadOnlyMemory<byte> chunk);

    /// <summary>The upstream body ended; returns bytes still held back (a final event without its blank line).</summary>
    ReadOnlyMemory<byte> OnEnd();
}
