namespace FakeOpenAi.Endpoints;

/// <summary>A generated reply: one piece per content delta; one completion token per piece.</summary>
internal sealed record ChatReply(string Id, long Created, string Model, string[] Pieces, int PromptTokens)
{
    public string Text => string.Concat(Pieces);

    public int CompletionTokens => Pieces.Length;
}
