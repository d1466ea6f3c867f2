namespace FakeOpenAi.Recording;

/// <summary>
/// The recorded requests plus the tests waiting on them. Waiters are registered before the existing list is scanned,
/// so a request that arrives while a test starts waiting is never missed.
/// </summary>
internal sealed class RequestLog(int maxRequests)
{
    private readonly Lock _lock = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<Waiter> _waiters = [];

    public IReadOnlyList<RecordedRequest> Snapshot()
    {
        lock (_lock)
        {
            return _requests.ToArray();
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _requests.Clear();
        }
    }

    public void Received(RecordedRequest request)
    {
        Waiter[] waiters;
        lock (_lock)
        {
            _requests.Add(request);
            if (_requests.Count > maxRequests)
            {
                // Drop in batches so that a long benchmark does not pay an O(n) shift per request.
                _requests.RemoveRange(0, Math.Max(1, maxRequests / 10));
            }

            waiters = _waiters.ToArray();
        }

        Notify(waiters, request, ended: false);
    }

    public void Ended(RecordedRequest request)
    {
        Waiter[] waiters;
        lock (_lock)
        {
            waiters = _waiters.ToArray();
        }

        Notify(waiters, request, ended: true);
    }

    public async Task<RecordedRequest> WaitAsync(Func<RecordedRequest, bool> match, bool ended, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new Waiter(match, ended);
        RecordedRequest[] existing;
        lock (_lock)
        {
            _waiters.Add(waiter);
            existing = _requests.ToArray();
        }

        try
        {
            foreach (var request in existing)
            {
                if (!ended || request.HasEnded)
                {
                    waiter.TryComplete(request);
                }
            }

            return await waiter.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            var seen = string.Join("; ", Snapshot().Select(r => r.ToString()));
            throw new TimeoutException(
                $"No request {(ended ? "ended" : "arrived")} matching the predicate within {timeout}. Requests seen: [{seen}]");
        }
        finally
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    private static void Notify(Waiter[] waiters, RecordedRequest request, bool ended)
    {
        foreach (var waiter in waiters)
        {
            if (waiter.Ended == ended)
            {
                waiter.TryComplete(request);
            }
        }
    }

    private sealed class Waiter(Func<RecordedRequest, bool> match, bool ended)
    {
        private readonly TaskCompletionSource<RecordedRequest> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Ended => ended;

        public Task<RecordedRequest> Task => _completion.Task;

        public void TryComplete(RecordedRequest request)
        {
            if (_completion.Task.IsCompleted)
            {
                return;
            }

            try
            {
                if (match(request))
                {
                    _completion.TrySetResult(request);
                }
            }
            catch (Exception ex)
            {
                // A throwing predicate is a test bug; surface it to the waiting test instead of the fake's request.
                _completion.TrySetException(ex);
            }
        }
    }
}
