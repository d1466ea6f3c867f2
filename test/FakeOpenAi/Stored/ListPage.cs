namespace FakeOpenAi.Stored;

/// <summary>One page of a list: the objects in order, and whether more lie beyond it in the walk's direction.</summary>
internal sealed record ListPage<T>(IReadOnlyList<T> Data, bool HasMore);
