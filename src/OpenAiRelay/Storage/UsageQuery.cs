namespace OpenAiRelay.Storage;

/// <summary>A usage report: rows started in [<see cref="Since"/>, <see cref="Until"/>), grouped by <see cref="By"/>.</summary>
internal sealed record UsageQuery(DateTimeOffset? Since, DateTimeOffset? Until, UsageGrouping By);
