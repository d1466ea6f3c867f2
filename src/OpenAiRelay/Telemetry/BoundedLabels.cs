using System.Collections.Concurrent;

namespace OpenAiRelay.Telemetry;

/// <summary>
/// The values a label may take, first come first kept up to a capacity, and one overflow value after that, so that
/// keys or model names a relay meets over its life cannot grow the series without bound (LiteLLM's per-key cardinality
/// leaks, litellm#12159, #27272). Once admitted, a value keeps its own series for the life of the process.
/// </summary>
internal sealed class BoundedLabels(int capacity, string overflow)
{
    private readonly ConcurrentDictionary<string, string> _admitted = new(StringComparer.Ordinal);
    private readonly Lock _admitting = new();
    private int _count;

    public string Overflow { get; } = overflow;

    public string Of(string value)
    {
        if (_admitted.TryGetValue(value, out var admitted))
        {
            return admitted;
        }

        // Full: values beyond the capacity never take the lock.
        if (Volatile.Read(ref _count) >= capacity)
        {
            return Overflow;
        }

        lock (_admitting)
        {
            if (_admitted.TryGetValue(value, out admitted))
            {
                return admitted;
            }

            if (_count >= capacity)
            {
                return Overflow;
            }

            _admitted[value] = value;
            Volatile.Write(ref _count, _count + 1);
            return value;
        }
    }
}
