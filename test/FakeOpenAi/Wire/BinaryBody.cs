namespace FakeOpenAi.Wire;

/// <summary>
/// Writes <see cref="FakeContent"/> bytes in 64 KiB chunks (one chunk = one "event" for stall/reset faults), so a
/// 100 MB download keeps the fake's memory flat.
/// </summary>
internal static class BinaryBody
{
    private const int ChunkSize = 64 * 1024;

    public static async Task WriteAsync(HttpContext context, StreamPacer pacer, long length)
    {
        var response = context.Response;
        await response.StartAsync(context.RequestAborted);
        await response.BodyWriter.FlushAsync(context.RequestAborted);
        for (long offset = 0; offset < length; offset += ChunkSize)
        {
            await pacer.BeforeEventAsync();
            var count = (int)Math.Min(ChunkSize, length - offset);
            var memory = response.BodyWriter.GetMemory(count);
            FakeContent.Fill(offset, memory.Span[..count]);
            response.BodyWriter.Advance(count);
            await response.BodyWriter.FlushAsync(context.RequestAborted);
        }
    }
}
