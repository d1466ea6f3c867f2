using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>
/// <see cref="IUsageLedger"/> for the request path: records go into a bounded channel that
/// <see cref="UsageLedgerWriter"/> drains in batches. Nothing here waits for the database. When the channel is full
/// (the database has been slow for a while) or already closed (late in shutdown), the record goes to an overflow
/// queue that a background task journals to disk, many records per fsync, so it is delayed, never dropped, and no
/// request thread ever waits on a disk flush or the journal's lock. While the overflow holds more than
/// <see cref="MaxOverflow"/> records the ledger reports itself unhealthy, so admission refuses new requests (503)
/// instead of letting memory grow.
/// </summary>
internal sealed partial class UsageLedger : IUsageLedger
{
    private readonly Channel<UsageRecord> _channel;
    private readonly PriceTable _prices;
    private readonly UsageLedgerJournal _journal;
    private readonly ILogger<UsageLedger> _logger;
    /// <summary>Records waiting to be journaled beyond which the ledger counts as unhealthy (fail closed).</summary>
    public const int MaxOverflow = 10_000;

    private readonly Channel<UsageRecord> _overflow = Channel.CreateUnbounded<UsageRecord>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Lock _drainLock = new();
    private int _overflowCount;
    private volatile bool _healthy = true;

    public UsageLedger(PriceTable prices, UsageLedgerJournal journal, IOptions<StorageOptions> options, ILogger<UsageLedger> logger)
    {
        _prices = prices;
        _journal = journal;
        _logger = logger;
        _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(Math.Max(1, options.Value.QueueCapacity))
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping anything.
        });
        _ = Task.Run(DrainOverflowLoopAsync);
    }

    /// <summary>Records that found the queue full, waiting for the journal (the <c>relay.ledger.queue</c> overflow).</summary>
    public int Overflowing => Volatile.Read(ref _overflowCount);

    public bool IsHealthy => _healthy && Volatile.Read(ref _overflowCount) <= MaxOverflow;

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    /// <summary>Records waiting for the writer.</summary>
    public int Pending => _channel.Reader.Count;

    public void Open(UsageRecord inFlight) => Enqueue(inFlight);

    public UsageRecord Settle(UsageRecord final)
    {
        if (final.CostMicros is null && final.Model is not null)
        {
            final = final with { CostMicros = _prices.CostMicros(final.Model, final.InputTokens, final.CachedTokens, final.OutputTokens, final.AudioMs) };
        }

        Enqueue(final);
        return final;
    }

    /// <summary>No more records will come through the channel: the writer drains what is left and stops.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    public void ReportWriteFailed() => _healthy = false;

    public void ReportWriteSucceeded() => _healthy = true;

    private void Enqueue(UsageRecord record)
    {
        if (_channel.Writer.TryWrite(record))
        {
            return;
        }

        Interlocked.Increment(ref _overflowCount);
        _overflow.Writer.TryWrite(record);
    }

    /// <summary>Journals every record waiting in the overflow queue now (one fsync); the writer calls it when it stops.</summary>
    public void FlushOverflow()
    {
        lock (_drainLock)
        {
            while (_overflow.Reader.Count > 0)
            {
                FlushOverflowBatch();
            }
        }
    }

    private void FlushOverflowBatch()
    {
        var batch = new List<UsageRecord>();
        while (batch.Count < UsageLedgerWriter.MaxBatch * 4 && _overflow.Reader.TryRead(out var record))
        {
            batch.Add(record);
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            _journal.Append(batch);
            Interlocked.Add(ref _overflowCount, -batch.Count);
            LogJournaledDirectly(_logger, batch.Count);
        }
#pragma warning disable CA1031 // Nothing is left to try for these records: say exactly what was lost.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Add(ref _overflowCount, -batch.Count);
            _healthy = false;
            foreach (var lost in batch)
            {
                LogRecordLost(_logger, e, lost.RequestId, lost.KeyLabel, lost.Model, lost.InputTokens, lost.OutputTokens, lost.CostMicros);
            }
        }
    }

    private async Task DrainOverflowLoopAsync()
    {
        while (await _overflow.Reader.WaitToReadAsync())
        {
            FlushOverflow();
        }
    }

    [LoggerMessage(EventId = 300, EventName = "LedgerQueueFull", Level = LogLevel.Warning,
        Message = "Ledger queue full or closed: {Count} record(s) written to the fallback journal")]
    private static partial void LogJournaledDirectly(ILogger logger, int count);

    [LoggerMessage(EventId = 301, EventName = "LedgerRecordLost", Level = LogLevel.Critical,
        Message = "Usage record {RequestId} could not be queued or journaled: key {KeyLabel}, model {Model}, {InputTokens} in, {OutputTokens} out, {CostMicros} micro-USD")]
    private static partial void LogRecordLost(ILogger logger, Exception exception, string requestId, string keyLabel, string? model, long inputTokens, long outputTokens, long? costMicros);
}
