using OpenAiRelay.Storage;

namespace OpenAiRelay.Admin;

/// <summary>A new key and its token. The token exists only here: it is shown once and never stored.</summary>
internal sealed record CreatedKey(StoredClientKey Key, string Token);
