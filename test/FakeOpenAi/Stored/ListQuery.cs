using System.Globalization;

namespace FakeOpenAi.Stored;

/// <summary>
/// OpenAI's cursor pagination query: <c>limit</c>, <c>after</c>, <c>before</c>, <c>order</c>. Out-of-range limits are
/// clamped rather than rejected: the fake answers whatever an SDK sends.
/// </summary>
internal sealed record ListQuery(int Limit, string? After, string? Before, bool Ascending)
{
    public static ListQuery From(HttpRequest request, ObjectFamily family)
    {
        var query = request.Query;
        var limit = int.TryParse(query["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : family.DefaultLimit;
        var order = query["order"].ToString();
        var ascending = order.Length == 0 ? family.AscendingByDefault : order == "asc";
        return new ListQuery(Math.Clamp(limit, 1, family.MaxLimit), NonEmpty(query["after"]), NonEmpty(query["before"]), ascending);
    }

    private static string? NonEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        value.ToString() is { Length: > 0 } text ? text : null;
}
