using System.Text.Json.Serialization;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>The fallback journal's line format: one <see cref="UsageRecord"/> per line, outcome by name.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(UsageRecord))]
internal sealed partial class UsageLedgerJsonContext : JsonSerializerContext;
