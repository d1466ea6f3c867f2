using System.Text.Json;
using System.Text.Json.Nodes;
using FakeOpenAi.Endpoints;

namespace FakeOpenAi.Stored.Routes;

/// <summary>
/// <c>/v1/conversations</c>: create (with initial <c>items</c>), get, update <c>metadata</c>, delete; <c>/items</c>:
/// add (answers the list of added items), list, get, and delete (which answers the conversation, as OpenAI does).
/// </summary>
internal static class ConversationRoutes
{
    public static Task? Route(StoredCall call)
    {
        var x = call.X;
        var conversations = Families.Conversations;
        return call.Path switch
        {
            ["conversations"] when call.Post => StoredApi.CreateAsync(x, conversations, string.Empty, body => Create(x, body)),
            ["conversations", var id] when call.Get => StoredApi.GetAsync(x, conversations, id),
            ["conversations", var id] when call.Post => StoredApi.UpdateAsync(x, conversations, id, string.Empty, (body, node) => StoredApi.CopySet(body, node, "metadata")),
            ["conversations", var id] when call.Delete => StoredApi.DeleteAsync(x, conversations, id),
            ["conversations", var id, "items"] when call.Post => StoredApi.WithParent(x, conversations, id, _ => AddItemsAsync(x, id)),
            ["conversations", var id, "items"] when call.Get => StoredApi.WithParent(x, conversations, id, _ => StoredApi.ListAsync(x, Families.ConversationItems, id)),
            ["conversations", var id, "items", var itemId] when call.Get =>
                StoredApi.WithParent(x, conversations, id, _ => StoredApi.GetAsync(x, Families.ConversationItems, itemId, id)),
            ["conversations", var id, "items", var itemId] when call.Delete =>
                StoredApi.WithParent(x, conversations, id, conversation => DeleteItemAsync(x, conversation, id, itemId)),
            _ => null,
        };
    }

    private static JsonObject Create(FakeExchange x, JsonElement body)
    {
        var conversation = StoredApi.NewObject(x, Families.Conversations);
        conversation["metadata"] = StoredApi.Field(body, "metadata", new JsonObject());
        if (body.TryGetProperty("items", out var items))
        {
            InputItems.Store(x.State.Stored, Families.ConversationItems, conversation["id"]!.GetValue<string>(), InputItems.From(items, Families.ConversationItems));
        }

        return conversation;
    }

    private static async Task AddItemsAsync(FakeExchange x, string id)
    {
        using var body = await StoredApi.ReadBodyAsync(x);
        if (body is null)
        {
            return;
        }

        var items = body.RootElement.TryGetProperty("items", out var input) ? InputItems.From(input, Families.ConversationItems) : [];
        InputItems.Store(x.State.Stored, Families.ConversationItems, id, items);
        var page = new ListPage<JsonObject>(items, false);
        StoredApi.WriteList(x.Json.Start(), page, i => i["id"]!.GetValue<string>(), (w, i) => i.WriteTo(w));
        await x.WriteJsonAsync();
    }

    private static Task DeleteItemAsync(FakeExchange x, StoredObject conversation, string id, string itemId) =>
        x.State.Stored.Of(Families.ConversationItems).Remove(id, itemId) is null
            ? StoredApi.NotFoundAsync(x, Families.ConversationItems, itemId)
            : StoredApi.WriteAsync(x, conversation.Snapshot());
}
