using System.Text;
using System.Text.Json;
using OpenAiRelay.Storage;

namespace OpenAiRelay.Ledger;

/// <summary>
/// The ledger's last resort: records the database would not take are appended here as JSON lines and fsync'd
/// before the call returns, then replayed into the database when it works again (at the latest at the next start).
/// Replaying is idempotent (upserts that never change a settled row), so a crash mid-replay only repeats work.
/// </summary>
internal sealed class UsageLedgerJournal(string path)
{
    public const string FileName = "ledger-journal.jsonl";

    private readonly Lock _lock = new();

    public string Path { get; } = path;

    public bool HasPending => File.Exists(Path);

    public void Append(IReadOnlyCollection<UsageRecord> records)
    {
        var text = new StringBuilder();
        foreach (var record in records)
        {
            text.Append(JsonSerializer.Serialize(record, UsageLedgerJsonContext.Default.UsageRecord)).Append('\n');
        }

        lock (_lock)
        {
            AppendCore(Encoding.UTF8.GetBytes(text.ToString()));
        }
    }

    private void AppendCore(byte[] bytes)
    {
        {
            var directory = System.IO.Path.GetDirectoryName(Path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// Hands every journaled record to <paramref name="write"/> and deletes the journal only if it succeeded.
    /// Runs under the journal's lock so that nothing appended meanwhile is deleted unreplayed.
    /// Returns the number of records replayed and the number of unreadable lines (a torn last line after a crash).
    /// </summary>
    public async Task<(int Replayed, int Skipped)> ReplayAsync(Func<IReadOnlyList<UsageRecord>, Task> write)
    {
        // An async lock is not needed: replays are rare and appends wait on the same monitor only briefly
        // before and after; the write itself happens with the records already read.
        List<UsageRecord> records;
        int skipped;
        lock (_lock)
        {
            if (!File.Exists(Path))
            {
                return (0, 0);
            }

            (records, skipped) = Read(Path);
            // Move it aside so appends made while we write go to a fresh file and are kept.
            File.Move(Path, Path + ".replaying", overwrite: false);
        }

        try
        {
            // One transaction per batch, not one for the whole journal: a journal that grew during a long outage
            // must not become one huge transaction. A failure part-way puts every record back; the batches already
            // written are upserts, so writing them again changes nothing.
            foreach (var batch in records.Chunk(UsageLedgerWriter.MaxBatch))
            {
                await write(batch);
            }
        }
        catch
        {
            Restore();
            throw;
        }

        File.Delete(Path + ".replaying");
        return (records.Count, skipped);
    }

    /// <summary>A replay interrupted by a crash left a <c>.replaying</c> file: put its records back in line.</summary>
    public void RecoverInterruptedReplay() => Restore();

    private void Restore()
    {
        lock (_lock)
        {
            var aside = Path + ".replaying";
            if (!File.Exists(aside))
            {
                return;
            }

            // Bytes as they are, so nothing is lost to a re-serialisation.
            AppendCore(File.ReadAllBytes(aside));
            File.Delete(aside);
        }
    }

    private static (List<UsageRecord> Records, int Skipped) Read(string path)
    {
        var records = new List<UsageRecord>();
        var skipped = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(line, UsageLedgerJsonContext.Default.UsageRecord) is { } record)
                {
                    records.Add(record);
                }
            }
            catch (JsonException)
            {
                skipped++;
            }
        }

        return (records, skipped);
    }
}
