using System.Collections.Concurrent;

namespace FakeOpenAi.Stored;

/// <summary>
/// The objects of one family, by scope (the parent id for a sub-collection such as a vector store's files; empty
/// for a top-level family) and id, with OpenAI's cursor pagination. Cursors outlive deletion, so a client that
/// deletes as it walks still continues from where it was.
/// </summary>
internal sealed class StoredCollection<T>
    where T : class
{
    private readonly ConcurrentDictionary<(string Scope, string Id), Entry> _live = new();
    private readonly ConcurrentDictionary<(string Scope, string Id), Position> _cursors = new();
    private long _sequence;

    public T Add(string scope, string id, long createdAt, T value)
    {
        var position = new Position(createdAt, Interlocked.Increment(ref _sequence));
        _cursors[(scope, id)] = position;
        _live[(scope, id)] = new Entry(value, position);
        return value;
    }

    public T? Get(string scope, string id) => _live.TryGetValue((scope, id), out var entry) ? entry.Value : null;

    public T? Remove(string scope, string id) => _live.TryRemove((scope, id), out var entry) ? entry.Value : null;

    /// <summary>Every object in the scope, oldest first unless <paramref name="ascending"/> is false.</summary>
    public IReadOnlyList<T> All(string scope, bool ascending = true) => [.. Ordered(scope, null, ascending).Select(e => e.Value)];

    public ListPage<T> List(string scope, ListQuery query, Func<T, bool>? where = null)
    {
        var items = Ordered(scope, where, query.Ascending);
        var start = 0;
        var end = items.Count;
        if (query.After is { } after)
        {
            if (!_cursors.TryGetValue((scope, after), out var cursor))
            {
                return new ListPage<T>([], false);
            }

            start = FirstBeyond(items, cursor, query.Ascending);
        }

        if (query.Before is { } before)
        {
            if (!_cursors.TryGetValue((scope, before), out var cursor))
            {
                return new ListPage<T>([], false);
            }

            end = Math.Max(start, FirstAtOrBeyond(items, cursor, query.Ascending));
            if (query.After is null)
            {
                // Walking backwards: the page is the `limit` objects closest to the cursor, still in list order.
                var from = Math.Max(start, end - query.Limit);
                return new ListPage<T>([.. items.Skip(from).Take(end - from).Select(e => e.Value)], from > start);
            }
        }

        var to = Math.Min(end, start + query.Limit);
        return new ListPage<T>([.. items.Skip(start).Take(to - start).Select(e => e.Value)], to < end);
    }

    private List<Entry> Ordered(string scope, Func<T, bool>? where, bool ascending)
    {
        var items = _live.Where(p => p.Key.Scope == scope && (where is null || where(p.Value.Value))).Select(p => p.Value).ToList();
        items.Sort((a, b) => ascending ? a.Position.CompareTo(b.Position) : b.Position.CompareTo(a.Position));
        return items;
    }

    private static int FirstBeyond(List<Entry> items, Position cursor, bool ascending)
    {
        var index = items.FindIndex(e => ascending ? e.Position.CompareTo(cursor) > 0 : e.Position.CompareTo(cursor) < 0);
        return index < 0 ? items.Count : index;
    }

    private static int FirstAtOrBeyond(List<Entry> items, Position cursor, bool ascending)
    {
        var index = items.FindIndex(e => ascending ? e.Position.CompareTo(cursor) >= 0 : e.Position.CompareTo(cursor) <= 0);
        return index < 0 ? items.Count : index;
    }

    private sealed record Entry(T Value, Position Position);
}
