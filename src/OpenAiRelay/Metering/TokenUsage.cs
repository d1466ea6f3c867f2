namespace OpenAiRelay.Metering;

/// <summary>Token counts as the upstream reports them (cached is part of input, reasoning part of output).</summary>
internal readonly record struct TokenUsage(long Input, long Cached, long Output, long Reasoning);
