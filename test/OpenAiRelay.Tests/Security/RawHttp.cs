using System.Net.Sockets;
using System.Text;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// Speaks HTTP/1.1 by hand over a TcpClient, so a test can send exactly the bytes an attacker would (smuggling
/// framing, dot segments, oversized heads) without HttpClient validating or normalising them.
/// </summary>
public static class RawHttp
{
    /// <summary>Writes <paramref name="request"/> as Latin-1 bytes and reads until the server closes or goes quiet.</summary>
    public static async Task<string> SendAsync(Uri server, string request, TimeSpan? quiet = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port).WaitAsync(TimeSpan.FromSeconds(10));
        var stream = client.GetStream();
        var bytes = Encoding.Latin1.GetBytes(request);
        try
        {
            await stream.WriteAsync(bytes).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (IOException)
        {
            // The server may answer and close before it read everything (431, 414): what it said still counts.
        }

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        var idle = quiet ?? TimeSpan.FromSeconds(2);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            using var cts = new CancellationTokenSource(idle);
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, cts.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (IOException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            received.Write(buffer, 0, read);
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    /// <summary>The status codes of every response in <paramref name="raw"/> (several when a connection was reused).</summary>
    public static IReadOnlyList<int> StatusCodes(string raw)
    {
        var codes = new List<int>();
        var at = 0;
        while ((at = raw.IndexOf("HTTP/1.1 ", at, StringComparison.Ordinal)) >= 0)
        {
            if (at + 12 <= raw.Length && int.TryParse(raw.AsSpan(at + 9, 3), System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                codes.Add(code);
            }

            at += 9;
        }

        return codes;
    }
}
