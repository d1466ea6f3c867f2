using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Pricing;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>
/// <see cref="IUsageLedger"/> for the request path: records go into a bounded channel that
/// <see cref="UsageLedgerWriter"/> drains in batches. Nothing here waits for the database. When the channel is full
/// (the database has been slow for a while) or already closed (late in shutdown), the record is journaled to disk
/// instead, so it is delayed, never dropped.
/// </summary>
internal sealed partial class UsageLedger : IUsageLedger
{
    private readonly Channel<UsageRecord> _channel;
    private readonly PriceTable _prices;
    private readonly UsageLedgerJournal _journal;
    private readonly ILogger<UsageLedger> _logger;
    private volatile bool _healthy = true;

    public UsageLedger(PriceTable prices, UsageLedgerJournal journal, IOptions<RelayOptions> options, ILogger<UsageLedger> logger)
    {
        _prices = prices;
        _journal = journal;
        _logger = logger;
        _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(Math.Max(1, options.Value.Storage.QueueCapacity))
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping anything.
        });
    }

    public bool IsHealthy => _healthy;

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    /// <summary>Records waiting for the writer.</summary>
    public int Pending => _channel.Reader.Count;

    public void Open(UsageRecord inFlight) => Enqueue(inFlight);

    public void Settle(UsageRecord final)
    {
        if (final.CostMicros is null && final.Model is not null)
        {
            final = final with { CostMicros = _prices.CostMicros(final.Model, final.InputTokens, final.CachedTokens, final.OutputTokens) };
        }

        Enqueue(final);
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

        try
        {
            _journal.Append([record]);
            LogJournaledDirectly(_logger, record.RequestId);
        }
#pragma warning disable CA1031 // The request path must never fail because of the ledger; the loss is logged loudly instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _healthy = false;
            LogRecordLost(_logger, e, record.RequestId, record.KeyLabel, record.Model, record.InputTokens, record.OutputTokens, record.CostMicros);
        }
    }

    [LoggerMessage(EventId = 300, EventName = "LedgerQueueFull", Level = LogLevel.Warning,
        Message = "Ledger queue full or closed: record {RequestId} written to the fallback journal")]
    private static partial void LogJournaledDirectly(ILogger logger, string requestId);

    [LoggerMessage(EventId = 301, EventName = "LedgerRecordLost", Level = LogLevel.Critical,
        Message = "Usage record {RequestId} could not be queued or journaled: key {KeyLabel}, model {Model}, {InputTokens} in, {OutputTokens} out, {CostMicros} micro-USD")]
    private static partial void LogRecordLost(ILogger logger, Exception exception, string requestId, string keyLabel, string? model, long inputTokens, long outputTokens, long? costMicros);
}
