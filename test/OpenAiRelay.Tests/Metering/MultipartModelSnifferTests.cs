using System.Text;
using OpenAiRelay.Metering;

namespace OpenAiRelay.Tests.Metering;

public sealed class MultipartModelSnifferTests
{
    [Theory]
    [InlineData("name=\"model\"", 1)]
    [InlineData("name=\"model\"", 7)]
    [InlineData("name=model", 3)]
    [InlineData("name=model", 4096)]
    public async Task ModelField_IsFoundWhateverTheReadSizes_AndBytesPassUnchanged(string disposition, int readSize)
    {
        var body = Encoding.UTF8.GetBytes(
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n"
            + new string('x', 5000)
            + "\r\n--b\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\nwhisper-1\r\n--b--\r\n");
        var meter = new RequestMeter("/audio/transcriptions", expectsUsage: true);
        using var sniffer = new MultipartModelSniffer(new MemoryStream(body), meter);
        using var copy = new MemoryStream();
        var buffer = new byte[readSize];
        int read;
        while ((read = await sniffer.ReadAsync(buffer)) > 0)
        {
            copy.Write(buffer, 0, read);
        }

        Assert.Equal(body, copy.ToArray());
        Assert.Equal("whisper-1", meter.RequestedModel);
    }

    [Fact]
    public async Task AFileNamedModel_IsNotTheModelField()
    {
        // filename="model" contains name="model"; only a Content-Disposition name parameter of a non-file part counts.
        var body = Encoding.UTF8.GetBytes(
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model\"\r\nContent-Type: audio/mpeg\r\n\r\n"
            + "gpt-evil\r\n--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n");
        Assert.Equal("whisper-1", await SniffAsync(body));

        var fileOnly = Encoding.UTF8.GetBytes(
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model\"\r\n\r\ngpt-evil\r\n--b--\r\n");
        Assert.Null(await SniffAsync(fileOnly));
    }

    private static async Task<string?> SniffAsync(byte[] body)
    {
        var meter = new RequestMeter("/audio/transcriptions", expectsUsage: true);
        using var sniffer = new MultipartModelSniffer(new MemoryStream(body), meter);
        await sniffer.CopyToAsync(Stream.Null);
        return meter.RequestedModel;
    }
}
