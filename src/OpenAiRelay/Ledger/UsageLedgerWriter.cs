using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenAiRelay.Pipeline;
using Microsoft.Extensions.Options;
using OpenAiRelay.Configuration;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>
/// Drains <see cref="UsageLedger"/> into the database: whatever is queued, up to <see cref="MaxBatch"/> records, in one
/// transaction (so batches grow by themselves under load and one fsync covers many rows). A failed batch marks the
/// ledger unhealthy, is retried, and then goes to the fsync'd fallback journal; while unhealthy the writer keeps
/// trying to replay the journal, and the first success makes the ledger healthy again.
/// <para>
/// Shutdown order: the host stops hosted services in reverse registration order, and WebApplicationBuilder registers
/// the web server's hosted service last (at Build), so this service stops AFTER Kestrel has finished its in-flight
/// requests, and their settlements are already queued when <see cref="StopAsync"/> drains. The drain has its own
/// bound (<see cref="StorageOptions.FlushTimeout"/>) instead of the host's token, which Kestrel may have used up.
/// </para>
/// </summary>
internal sealed partial class UsageLedgerWriter : BackgroundService
{
    // A 25 ms window at a few thousand requests/s holds a few hundred records (an opening and a settlement each): a
    // batch that takes the whole window lets one commit cover it and lets settlements supersede their openings.
    public const int MaxBatch = 500;

    /// <summary>How long the writer lets records gather before a commit; bounds the ledger's write delay.</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan[] s_retryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500)];
    private static readonly TimeSpan s_unhealthyPoll = TimeSpan.FromSeconds(1);

    private readonly UsageLedger _ledger;
    private readonly UsageStore _store;
    private readonly UsageLedgerJournal _journal;
    private readonly TimeProvider _time;
    private readonly TimeSpan _flushTimeout;
    private readonly ILogger<UsageLedgerWriter> _logger;
    private readonly CancellationTokenSource _abandon = new();

    private readonly Histogram<double>? _writeDuration;

    public UsageLedgerWriter(
        UsageLedger ledger, UsageStore store, UsageLedgerJournal journal, TimeProvider time, IOptions<StorageOptions> options, ILogger<UsageLedgerWriter> logger,
        IMeterFactory? meters = null)
    {
        _writeDuration = meters?.Create(RelayDiagnostics.Name).CreateHistogram(
            "relay.ledger.write.duration", "s", "Time to write one batch of usage rows to the database, failed attempts included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _ledger = ledger;
        _store = store;
        _journal = journal;
        _time = time;
        _flushTimeout = options.Value.FlushTimeout;
        _logger = logger;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _ledger.Complete();
        if (ExecuteTask is not { } running)
        {
            _ledger.FlushOverflow();
            return;
        }

        try
        {
            await running.WaitAsync(_flushTimeout, _time, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            // The database is not keeping up: everything still queued goes to the journal, replayed at the next start.
            LogFlushTimedOut(_logger, _flushTimeout, _ledger.Pending);
            await _abandon.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(5), _time, CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default);
        }

        // Settlements that found the queue full or closed are on their way to the journal: finish that before exit.
        _ledger.FlushOverflow();
    }

    public override void Dispose()
    {
        _abandon.Dispose();
        base.Dispose();
    }

    // The loop ends when the channel is completed and empty (StopAsync), not on the host's stopping token.
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _ledger.Reader;
        var batch = new List<UsageRecord>(MaxBatch);
        while (true)
        {
            bool more;
            if (_ledger.IsHealthy && !_journal.HasPending)
            {
                more = await reader.WaitToReadAsync(CancellationToken.None);
            }
            else
            {
                using (var poll = new CancellationTokenSource(s_unhealthyPoll, _time))
                {
                    try
                    {
                        more = await reader.WaitToReadAsync(poll.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        more = true;
                    }
                }

                await TryReplayJournalAsync();
            }

            if (!more)
            {
                return;
            }

            if (reader.Count < MaxBatch && !reader.Completion.IsCompleted)
            {
                // Let a batch gather: one commit (one fsync with synchronous=FULL) then covers every request of the
                // window instead of one each. Measured: one fsync per request cost ~200 µs of relay CPU per request.
                await Task.Delay(BatchWindow, _time, CancellationToken.None);
            }

            while (batch.Count < MaxBatch && reader.TryRead(out var record))
            {
                batch.Add(record);
            }

            if (batch.Count > 0)
            {
                SupersedeOpenings(batch);
                await WriteAsync(batch);
                batch.Clear();
            }
        }
    }

    /// <summary>
    /// A short request's in-flight row and its settlement usually arrive in the same batch: the settlement alone is
    /// written (same transaction, same final row), which halves the ledger's writes under load.
    /// </summary>
    private static void SupersedeOpenings(List<UsageRecord> batch)
    {
        if (batch.Count < 2)
        {
            return;
        }

        var settled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in batch)
        {
            if (record.Outcome != UsageOutcome.InFlight)
            {
                settled.Add(record.RequestId);
            }
        }

        if (settled.Count > 0)
        {
            batch.RemoveAll(record => record.Outcome == UsageOutcome.InFlight && settled.Contains(record.RequestId));
        }
    }

    private void RecordWrite(long started, string result)
    {
        if (_writeDuration is { Enabled: true } histogram)
        {
            histogram.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("relay.ledger.result", result));
        }
    }

    private async Task WriteAsync(List<UsageRecord> batch)
    {
        for (var attempt = 0; !_abandon.IsCancellationRequested; attempt++)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await _store.UpsertAsync(batch, _abandon.Token);
                RecordWrite(started, "ok");
                _ledger.ReportWriteSucceeded();
                return;
            }
#pragma warning disable CA1031 // Any failure (disk full, lock timeout, dropped connection) is handled the same way: retry, then journal.
            catch (Exception e)
#pragma warning restore CA1031
            {
                RecordWrite(started, "error");
                _ledger.ReportWriteFailed();
                LogWriteFailed(_logger, e, batch.Count, attempt + 1);
                if (attempt >= s_retryDelays.Length)
                {
                    break;
                }

                try
                {
                    await Task.Delay(s_retryDelays[attempt], _time, _abandon.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        try
        {
            _journal.Append(batch);
            LogJournaled(_logger, batch.Count, _journal.Path);
        }
#pragma warning disable CA1031 // Nothing is left to try: say exactly what was lost.
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var record in batch)
            {
                LogRecordLost(_logger, e, record.RequestId, record.KeyLabel, record.Model, record.InputTokens, record.OutputTokens, record.CostMicros);
            }
        }
    }

    private async Task TryReplayJournalAsync()
    {
        if (!_journal.HasPending || _abandon.IsCancellationRequested)
        {
            return;
        }

        try
        {
            var (replayed, skipped) = await _journal.ReplayAsync(records => _store.UpsertAsync(records, _abandon.Token));
            _ledger.ReportWriteSucceeded();
            LogJournalReplayed(_logger, replayed, skipped);
        }
#pragma warning disable CA1031 // Still failing: stay unhealthy and try again at the next poll.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _ledger.ReportWriteFailed();
            LogReplayFailed(_logger, e.GetType().Name, e.Message);
        }
    }

    [LoggerMessage(EventId = 310, EventName = "LedgerWriteFailed", Level = LogLevel.Error, Message = "Ledger write of {Count} record(s) failed (attempt {Attempt})")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(EventId = 311, EventName = "LedgerJournaled", Level = LogLevel.Warning, Message = "{Count} ledger record(s) written to the fallback journal {Path}; they are replayed when the database works again")]
    private static partial void LogJournaled(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 312, EventName = "LedgerJournalReplayed", Level = LogLevel.Information, Message = "Replayed {Count} journaled ledger record(s) into the database ({Skipped} unreadable line(s) skipped)")]
    private static partial void LogJournalReplayed(ILogger logger, int count, int skipped);

    [LoggerMessage(EventId = 313, EventName = "LedgerReplayFailed", Level = LogLevel.Warning, Message = "Ledger journal replay failed, will retry: {ExceptionType}: {ExceptionMessage}")]
    private static partial void LogReplayFailed(ILogger logger, string exceptionType, string exceptionMessage);

    [LoggerMessage(EventId = 314, EventName = "LedgerFlushTimedOut", Level = LogLevel.Error, Message = "Ledger flush did not finish within {Timeout}; {Pending} queued record(s) go to the fallback journal")]
    private static partial void LogFlushTimedOut(ILogger logger, TimeSpan timeout, int pending);

    [LoggerMessage(EventId = 315, EventName = "LedgerRecordLost", Level = LogLevel.Critical,
        Message = "Usage record {RequestId} could not be written or journaled: key {KeyLabel}, model {Model}, {InputTokens} in, {OutputTokens} out, {CostMicros} micro-USD")]
    private static partial void LogRecordLost(ILogger logger, Exception exception, string requestId, string keyLabel, string? model, long inputTokens, long outputTokens, long? costMicros);
}
