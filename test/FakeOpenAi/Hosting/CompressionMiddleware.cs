using System.IO.Compression;
using Microsoft.Net.Http.Headers;

namespace FakeOpenAi.Hosting;

/// <summary>
/// Compresses JSON and event-stream responses when the client accepts it, as OpenAI's edge does (the Python SDK's
/// httpx sends <c>Accept-Encoding: gzip, deflate</c>): br, then gzip, then deflate, by the client's q-values.
/// Events are flushed through the compressor one by one, so a compressed stream still arrives event by event.
/// Off for a request with <c>x-fake-no-compression</c> and for WebSocket upgrades.
/// </summary>
internal sealed class CompressionMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var encoding = Choose(context.Request.Headers.AcceptEncoding.ToString());
        if (encoding is null || context.WebSockets.IsWebSocketRequest || context.Request.Headers.ContainsKey("x-fake-no-compression"))
        {
            await next(context);
            return;
        }

        var body = new CompressingBody(context, context.Response.Body, encoding);
        context.Response.Body = body;
        // An event stream starts its response before its first write: decide then, while headers can still change.
        context.Response.OnStarting(() =>
        {
            body.DecideNow();
            return Task.CompletedTask;
        });
        try
        {
            await next(context);
        }
        finally
        {
            await body.CompleteAsync();
        }
    }

    /// <summary>The encoding to use, or null for identity (RFC 9110 12.5.3: q=0 refuses, <c>*</c> stands for any other).</summary>
    internal static string? Choose(string acceptEncoding)
    {
        var accepted = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in acceptEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split(';', StringSplitOptions.TrimEntries);
            var q = 1.0;
            foreach (var parameter in pieces[1..])
            {
                if (parameter.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(parameter[2..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
                {
                    q = value;
                }
            }

            accepted[pieces[0]] = q;
        }

        string? best = null;
        var bestQ = 0.0;
        foreach (var candidate in new[] { "br", "gzip", "deflate" })
        {
            var q = accepted.TryGetValue(candidate, out var own) ? own : accepted.GetValueOrDefault("*");
            if (q > bestQ)
            {
                (best, bestQ) = (candidate, q);
            }
        }

        return best;
    }

    private sealed class CompressingBody(HttpContext context, Stream inner, string encoding) : Stream
    {
        private Stream? _compressor;
        private bool? _compress;

        /// <summary>Decided at the first write, before any byte leaves: the content type is known by then.</summary>
        private bool Compress => _compress ??= Decide();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        private Stream Target => !Compress ? inner : _compressor ??= encoding switch
        {
            "br" => new BrotliStream(inner, CompressionLevel.Fastest, leaveOpen: true),
            "gzip" => new GZipStream(inner, CompressionLevel.Fastest, leaveOpen: true),
            _ => new ZLibStream(inner, CompressionLevel.Fastest, leaveOpen: true),
        };

        public void DecideNow() => _ = Compress;

        private bool Decide()
        {
            var response = context.Response;
            var type = response.ContentType ?? string.Empty;
            if (response.HasStarted
                || !(type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }

            response.Headers.ContentEncoding = encoding;
            response.Headers.Append(HeaderNames.Vary, "Accept-Encoding");
            response.ContentLength = null;
            return true;
        }

        public override void Write(byte[] buffer, int offset, int count) => Target.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => Target.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Target.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => Target.Flush();

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            // Flushing the compressor emits everything written so far (a sync flush), then the socket is flushed.
            if (Compress)
            {
                await Target.FlushAsync(cancellationToken);
            }

            await inner.FlushAsync(cancellationToken);
        }

        public async Task CompleteAsync()
        {
            if (_compressor is not null)
            {
                try
                {
                    await _compressor.DisposeAsync();
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    // The client went away; nothing more to send.
                }
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
