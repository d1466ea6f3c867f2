using System.Text.Json;
using OpenAiRelay.Streams;

namespace OpenAiRelay.Isolation;

/// <summary>
/// The response body of a request that may create objects, or show one its owner already has: holds it until what it
/// names is recorded as the caller's (and the object's snapshot refreshed), so an id the client sees is always owned. A JSON body is held whole (creates are small) and released by
/// <see cref="CompleteAsync"/>; an event stream only until its first event (<c>response.created</c> carries the id),
/// then it flows unbuffered. An error answer, or a body larger than <see cref="MaxHeldBytes"/>, passes untouched and
/// records nothing (its objects then belong to no key: default deny, never a wrong owner).
/// </summary>
internal sealed class OwnershipCaptureStream(Stream inner, HttpResponse response, Func<JsonElement, Task<byte[]?>> record)
    : DelegatingStream(inner)
{
    public const int MaxHeldBytes = 1024 * 1024;

    private MemoryStream? _held;

    // What a held JSON body is sent as instead, when the check rewrote it (a list with others' entries taken out).
    private byte[]? _replacement;
    private Mode _mode = Mode.Undecided;

    private enum Mode
    {
        Undecided,
        HoldJson,
        HoldFirstEvent,
        PassThrough,
    }

    public override void Write(ReadOnlySpan<byte> buffer) => throw new NotSupportedException("The relay writes response bodies asynchronously.");

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _mode is Mode.HoldJson or Mode.HoldFirstEvent ? Task.CompletedTask : Inner.FlushAsync(cancellationToken);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_mode == Mode.Undecided)
        {
            _mode = Decide();
        }

        if (_mode == Mode.PassThrough)
        {
            await Inner.WriteAsync(buffer, cancellationToken);
            return;
        }

        _held ??= new MemoryStream();
        _held.Write(buffer.Span);
        if (_held.Length > MaxHeldBytes)
        {
            await ReleaseAsync(cancellationToken);
            return;
        }

        if (_mode == Mode.HoldFirstEvent && FirstEventData() is { } data)
        {
            await RecordAsync(data, cancellationToken);
            await ReleaseAsync(cancellationToken);
        }
    }

    /// <summary>The body ended: records what a held JSON body names, then sends it.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_held is null || _mode == Mode.PassThrough)
        {
            return;
        }

        if (_mode == Mode.HoldJson)
        {
            await RecordAsync(_held.GetBuffer().AsMemory(0, (int)_held.Length), cancellationToken);
        }

        await ReleaseAsync(cancellationToken);
    }

    private Mode Decide()
    {
        if (response.StatusCode is < 200 or > 299 || response.Headers.ContentEncoding.Count > 0)
        {
            return Mode.PassThrough;
        }

        var type = response.ContentType ?? string.Empty;
        return type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) ? Mode.HoldJson
            : type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) ? Mode.HoldFirstEvent
            : Mode.PassThrough;
    }

    /// <summary>The JSON of the first complete event's <c>data:</c> line, once the held bytes contain one.</summary>
    private ReadOnlyMemory<byte>? FirstEventData()
    {
        var held = _held!.GetBuffer().AsMemory(0, (int)_held.Length);
        var span = held.Span;
        var end = span.IndexOf("\n\n"u8);
        if (end < 0)
        {
            return null;
        }

        var data = span[..end].IndexOf("data:"u8);
        if (data < 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        var start = data + 5;
        var lineEnd = span[start..end].IndexOf((byte)'\n');
        return held[start..(lineEnd < 0 ? end : start + lineEnd)];
    }

    private async Task RecordAsync(ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return;
        }

        using (document)
        {
            // Not the client's token: a client that leaves now must still leave its object owned.
            _replacement = await record(document.RootElement).WaitAsync(cancellationToken);
        }
    }

    private async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        _mode = Mode.PassThrough;
        if (_held is { Length: > 0 } held)
        {
            _held = null;
            var body = held.GetBuffer().AsMemory(0, (int)held.Length);
            if (_replacement is { } replacement && !response.HasStarted)
            {
                response.ContentLength = replacement.Length;
                body = replacement;
            }

            await Inner.WriteAsync(body, cancellationToken);
            await Inner.FlushAsync(cancellationToken);
        }
    }
}
