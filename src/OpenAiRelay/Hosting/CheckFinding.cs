namespace OpenAiRelay.Hosting;

/// <summary>How one <c>openai-relay check</c> finding came out.</summary>
internal enum CheckStatus
{
    /// <summary>As it should be.</summary>
    Pass,

    /// <summary>The relay works, but probably not as intended (an open relay, Redis down).</summary>
    Warn,

    /// <summary>Something a client would run into: the relay cannot serve as configured.</summary>
    Fail,
}

/// <summary>One line of <c>openai-relay check</c>: what was checked, how it came out, and in words what was seen. No secret.</summary>
internal sealed record CheckFinding(string Name, CheckStatus Status, string Detail)
{
    public static CheckFinding Pass(string name, string detail) => new(name, CheckStatus.Pass, detail);

    public static CheckFinding Warn(string name, string detail) => new(name, CheckStatus.Warn, detail);

    public static CheckFinding Fail(string name, string detail) => new(name, CheckStatus.Fail, detail);

    /// <summary>The innermost reason of a failure (connection refused, name not resolved, access denied), one line.</summary>
    public static string ReasonOf(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner.Message.Split('\n', 2)[0].Trim();
    }
}
