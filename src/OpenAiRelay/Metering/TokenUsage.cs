namespace OpenAiRelay.Metering;

/// <summary>
/// Usage as the upstream reports it (cached is part of input, reasoning part of output), and for duration-billed
/// audio (whisper-1's <c>"type": "duration"</c>) the milliseconds it was billed for.
/// </summary>
internal readonly record struct TokenUsage(long Input, long Cached, long Output, long Reasoning, long AudioMilliseconds = 0);
