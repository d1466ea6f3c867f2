namespace FakeOpenAi;

/// <summary>
/// Faults waiting for a request. Each fault is consumed by exactly one request: enqueue it twice to fail twice
/// (for example to watch an SDK retry and then succeed).
/// </summary>
public sealed class FaultQueue
{
    private readonly List<FakeFault> _faults = [];
    private readonly Lock _lock = new();

    /// <summary>Faults not yet consumed.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _faults.Count;
            }
        }
    }

    public void Enqueue(FakeFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_lock)
        {
            _faults.Add(fault);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _faults.Clear();
        }
    }

    /// <summary>Removes and returns the oldest fault that applies to <paramref name="path"/>.</summary>
    internal FakeFault? TryTake(string path)
    {
        lock (_lock)
        {
            for (var i = 0; i < _faults.Count; i++)
            {
                var fault = _faults[i];
                if (fault.PathPrefix is null || path.StartsWith(fault.PathPrefix, StringComparison.Ordinal))
                {
                    _faults.RemoveAt(i);
                    return fault;
                }
            }

            return null;
        }
    }
}
