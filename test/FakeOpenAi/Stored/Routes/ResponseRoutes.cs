namespace FakeOpenAi.Stored.Routes;

/// <summary>Stored responses: get (a background response answers unfinished until its polls run out), delete, cancel, input items.</summary>
internal static class ResponseRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        return call.Path switch
        {
            ["responses", var id] when call.Get && id.Length > 0 => StoredApi.GetAsync(x, Families.Responses, id),
            ["responses", var id] when call.Delete => StoredApi.DeleteAsync(x, Families.Responses, id),
            ["responses", var id, "cancel"] when call.Post => x.State.Stored.Get(Families.Responses, id) is { } stored
                ? StoredApi.WriteAsync(x, stored.Cancel())
                : StoredApi.NotFoundAsync(x, Families.Responses, id),
            ["responses", var id, "input_items"] when call.Get =>
                StoredApi.WithParent(x, Families.Responses, id, _ => StoredApi.ListAsync(x, Families.ResponseInputItems, id)),
            _ => null,
        };
    }
}
