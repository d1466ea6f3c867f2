namespace FakeOpenAi.Stored;

/// <summary>
/// Where an object sits in its list: OpenAI orders by <c>created_at</c>, and many objects share a second, so a
/// monotonic creation sequence breaks the tie and keeps every page walk stable.
/// </summary>
internal readonly record struct Position(long CreatedAt, long Sequence) : IComparable<Position>
{
    public int CompareTo(Position other) =>
        CreatedAt != other.CreatedAt ? CreatedAt.CompareTo(other.CreatedAt) : Sequence.CompareTo(other.Sequence);
}
