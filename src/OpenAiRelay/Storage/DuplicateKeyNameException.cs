namespace OpenAiRelay.Storage;

/// <summary>A live (not revoked) key already has this name.</summary>
internal sealed class DuplicateKeyNameException(string name)
    : Exception($"A key named '{name}' already exists; revoke it first or choose another name")
{
    public string Name { get; } = name;
}
