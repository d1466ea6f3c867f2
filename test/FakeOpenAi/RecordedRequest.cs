namespace FakeOpenAi;

/// <summary>
/// One request as the fake saw it. Header fields are fixed when the request arrives; the outcome fields
/// (<see cref="EndedAt"/>, <see cref="StatusCode"/>, <see cref="Aborted"/>, body length and hash) are filled in when it
/// ends, so read them after <see cref="FakeOpenAiServer.WaitForEndAsync"/>.
/// </summary>
public sealed class RecordedRequest
{
    private const int MaxKeptBody = 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly List<string> _webSocketMessages = [];
    private DateTimeOffset? _endedAt;
    private int _statusCode;
    private bool _aborted;
    private bool _resetByFake;
    private long _bodyLength;
    private string _bodySha256 = string.Empty;
    private byte[]? _body;
    private string? _webSocketSubProtocol;

    internal RecordedRequest(
        string method,
        string path,
        string queryString,
        string rawTarget,
        IReadOnlyDictionary<string, string> headers,
        DateTimeOffset receivedAt)
    {
        Method = method;
        Path = path;
        QueryString = queryString;
        RawTarget = rawTarget;
        Headers = headers;
        ReceivedAt = receivedAt;
    }

    public string Method { get; }

    /// <summary>The decoded path, e.g. <c>/v1/chat/completions</c>.</summary>
    public string Path { get; }

    /// <summary>The raw query including the leading <c>?</c>, or empty.</summary>
    public string QueryString { get; }

    /// <summary>The request target exactly as sent on the request line (path and query, not decoded).</summary>
    public string RawTarget { get; }

    /// <summary>Request headers, case-insensitive; repeated headers are joined with <c>", "</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public DateTimeOffset ReceivedAt { get; }

    public DateTimeOffset? EndedAt { get { lock (_lock) { return _endedAt; } } }

    /// <summary>Status the fake answered with (101 for an accepted WebSocket); 0 until the request ends.</summary>
    public int StatusCode { get { lock (_lock) { return _statusCode; } } }

    /// <summary>
    /// The client went away (RequestAborted fired or the WebSocket vanished without a close) before the fake finished.
    /// A deliberate reset by the fake (<c>x-fake-reset-after</c>) sets <see cref="ResetByFake"/> instead.
    /// </summary>
    public bool Aborted { get { lock (_lock) { return _aborted; } } }

    /// <summary>The fake aborted the connection on purpose (a reset fault).</summary>
    public bool ResetByFake { get { lock (_lock) { return _resetByFake; } } }

    /// <summary>Bytes of request body received (the whole body unless the client aborted).</summary>
    public long BodyLength { get { lock (_lock) { return _bodyLength; } } }

    /// <summary>Lowercase hex SHA-256 of the request body bytes received.</summary>
    public string BodySha256 { get { lock (_lock) { return _bodySha256; } } }

    /// <summary>The body, kept only when it is at most 1 MiB.</summary>
    public byte[]? Body { get { lock (_lock) { return _body; } } }

    /// <summary>The subprotocol the fake accepted on a WebSocket upgrade, if any.</summary>
    public string? WebSocketSubProtocol { get { lock (_lock) { return _webSocketSubProtocol; } } }

    /// <summary>Text messages the client sent over the WebSocket, in order (binary ones as <c>&lt;binary N bytes&gt;</c>).</summary>
    public IReadOnlyList<string> WebSocketMessages { get { lock (_lock) { return _webSocketMessages.ToArray(); } } }

    /// <summary>Whether the request has ended (completed or aborted).</summary>
    public bool HasEnded => EndedAt is not null;

    /// <summary>The body as UTF-8 text, or null when it was not kept.</summary>
    public string? BodyText => Body is { } body ? System.Text.Encoding.UTF8.GetString(body) : null;

    public override string ToString() =>
        $"{Method} {Path}{QueryString} -> {(HasEnded ? StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "running")}{(Aborted ? " (aborted)" : "")}";

    internal static int MaxKeptBodyBytes => MaxKeptBody;

    internal void SetWebSocketSubProtocol(string? subProtocol)
    {
        lock (_lock)
        {
            _webSocketSubProtocol = subProtocol;
        }
    }

    internal void AddWebSocketMessage(string message)
    {
        lock (_lock)
        {
            _webSocketMessages.Add(message);
        }
    }

    internal void Complete(DateTimeOffset endedAt, int statusCode, bool aborted, bool resetByFake, long bodyLength, string bodySha256, byte[]? body)
    {
        lock (_lock)
        {
            _statusCode = statusCode;
            _aborted = aborted;
            _resetByFake = resetByFake;
            _bodyLength = bodyLength;
            _bodySha256 = bodySha256;
            _body = body;
            _endedAt = endedAt;
        }
    }
}
