using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace FakeOpenAi.Wire;

/// <summary>
/// One reusable <see cref="Utf8JsonWriter"/> over a growable buffer: a stream writes each event into it and sends
/// the bytes, instead of allocating a writer and a string per event.
/// </summary>
internal sealed class JsonBuffer : IDisposable
{
    // Relaxed escaping keeps non-ASCII text readable, like the real API; the output is never embedded in HTML.
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public JsonBuffer() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

    /// <summary>Clears the buffer and returns the writer positioned at the start of a new document.</summary>
    public Utf8JsonWriter Start()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        return _writer;
    }

    /// <summary>The document written since <see cref="Start"/>; valid until the next <see cref="Start"/>.</summary>
    public ReadOnlyMemory<byte> Written
    {
        get
        {
            _writer.Flush();
            return _buffer.WrittenMemory;
        }
    }

    public void Dispose() => _writer.Dispose();
}
