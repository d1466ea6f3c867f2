using System.Text.Json;

namespace OpenAiRelay.Isolation;

/// <summary>
/// The top-level <c>store</c> of a generation's JSON body: whether the upstream keeps what it makes (a chat completion
/// only with <c>store: true</c>, a response unless <c>store: false</c>). What is not kept is no object to own.
/// </summary>
internal static class StoreOption
{
    /// <summary>True or false as the body sets it; null when it does not (or is not JSON).</summary>
    public static bool? Read(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\"store\""u8) < 0)
        {
            return null;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isStore = reader.ValueTextEquals("store"u8);
                reader.Read();
                if (isStore)
                {
                    return reader.TokenType switch
                    {
                        JsonTokenType.True => true,
                        JsonTokenType.False => false,
                        _ => null,
                    };
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>True when a create on <paramref name="route"/> leaves an object upstream, given its <c>store</c>.</summary>
    public static bool Keeps(ObjectRoute route, bool? store) => route.Family?.Collection switch
    {
        "chat/completions" => store == true,
        "responses" => store != false,
        _ => true,
    };
}
