using FakeOpenAi.Wire;

namespace FakeOpenAi.Stored;

/// <summary>
/// What differs between OpenAI's stored-object families: the <c>object</c> name, the id shape, the 404 wording,
/// the deleted object, and the list defaults. Everything else (storage, pagination, CRUD) is shared.
/// </summary>
internal sealed record ObjectFamily(string Key, string ObjectType, string IdPrefix, Func<string, string> NotFound)
{
    public int IdLength { get; init; } = 24;

    /// <summary>Conversations and their items use lowercase hex ids (<c>conv_68a…</c>); the rest alphanumerics.</summary>
    public bool HexId { get; init; }

    public string DeletedObject { get; init; } = ObjectType + ".deleted";

    /// <summary>Evals answer a delete with <c>eval_id</c>/<c>run_id</c> rather than <c>id</c>.</summary>
    public string DeletedIdField { get; init; } = "id";

    public string? NotFoundParam { get; init; }

    public int DefaultLimit { get; init; } = 20;

    public int MaxLimit { get; init; } = 100;

    public bool AscendingByDefault { get; init; }

    public string NewId() => IdPrefix + (HexId ? Ids.Hex(IdLength) : Ids.Alphanumeric(IdLength));
}
