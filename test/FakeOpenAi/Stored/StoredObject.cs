using System.Text.Json;
using System.Text.Json.Nodes;

namespace FakeOpenAi.Stored;

/// <summary>
/// An object the fake keeps as OpenAI does (a response, a stored chat completion, a batch, a vector store...). A
/// background response holds its final form and how many reads it still answers as unfinished.
/// </summary>
internal sealed class StoredObject(JsonObject final, int pollsLeft)
{
    private readonly Lock _lock = new();

    public JsonObject Final { get; private set; } = final;

    public int PollsLeft { get; private set; } = pollsLeft;

    /// <summary>What a read returns now: queued/in_progress without usage while polls remain, else the final object.</summary>
    public string Read()
    {
        lock (_lock)
        {
            if (PollsLeft <= 0)
            {
                return Final.ToJsonString();
            }

            PollsLeft--;
            return PollsLeft <= 0 ? Final.ToJsonString() : Unfinished("in_progress");
        }
    }

    public string Unfinished(string status)
    {
        var copy = (JsonObject)Final.DeepClone();
        copy["status"] = status;
        copy["usage"] = null;
        copy["output"] = new JsonArray();
        return copy.ToJsonString();
    }

    /// <summary>Cancels an unfinished background response: cancelled, billed for the input and half the output.</summary>
    public string Cancel()
    {
        lock (_lock)
        {
            if (PollsLeft > 0)
            {
                PollsLeft = 0;
                var cancelled = (JsonObject)Final.DeepClone();
                cancelled["status"] = "cancelled";
                if (cancelled["usage"] is JsonObject usage)
                {
                    var output = (usage["output_tokens"]?.GetValue<long>() ?? 0) / 2;
                    usage["output_tokens"] = output;
                    usage["total_tokens"] = (usage["input_tokens"]?.GetValue<long>() ?? 0) + output;
                }

                Final = cancelled;
            }

            return Final.ToJsonString();
        }
    }

    /// <summary>Changes the object in place (an update, a cancel) and returns its new form.</summary>
    public string Update(Action<JsonObject> change)
    {
        lock (_lock)
        {
            change(Final);
            return Final.ToJsonString();
        }
    }

    /// <summary>The object as a list shows it: its current form, without counting as a poll.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        lock (_lock)
        {
            Final.WriteTo(writer);
        }
    }

    public string Snapshot()
    {
        lock (_lock)
        {
            return Final.ToJsonString();
        }
    }

    public T? Field<T>(string name)
    {
        lock (_lock)
        {
            return Final[name] is JsonValue value && value.TryGetValue<T>(out var result) ? result : default;
        }
    }
}
