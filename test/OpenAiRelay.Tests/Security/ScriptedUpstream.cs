using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OpenAiRelay.Tests.Security;

/// <summary>
/// An upstream that answers every request with the same raw bytes, for responses no well-behaved server (the fake
/// included) would send: a 101 to a plain POST, two different Content-Length headers.
/// </summary>
public sealed class ScriptedUpstream : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _response;

    public ScriptedUpstream(string response)
    {
        _response = Encoding.Latin1.GetBytes(response);
        _listener.Start();
        _ = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _ = AnswerAsync(socket);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AnswerAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                // Read the head and the declared body, so the relay is not answered before it finished sending.
                var received = new List<byte>();
                var buffer = new byte[8192];
                var headEnd = -1;
                var contentLength = 0;
                while (headEnd < 0 || received.Count < headEnd + contentLength)
                {
                    var read = await socket.ReceiveAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    received.AddRange(buffer.AsSpan(0, read));
                    if (headEnd < 0)
                    {
                        var text = Encoding.Latin1.GetString(received.ToArray());
                        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                        if (end >= 0)
                        {
                            headEnd = end + 4;
                            var line = text[..end].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                            contentLength = line is null ? 0 : int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                        }
                    }
                }

                await socket.SendAsync(_response, _stop.Token);
                await Task.Delay(200, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
