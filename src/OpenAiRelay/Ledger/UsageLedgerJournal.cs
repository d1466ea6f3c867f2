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
        using var stream = OpenForAppend();
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    private FileStream OpenForAppend()
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            OwnerOnly.Directory(directory);
        }

        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly.FileMode;
        }

        return new FileStream(Path, options);
    }

    /// <summary>
    /// Hands every journaled record to <paramref name="write"/>, a batch at a time, and deletes the journal only if
    /// every batch succeeded. The journal is moved aside under the lock first, so appends made meanwhile go to a fresh
    /// file and are kept. It is read as it is written, so a journal that grew during a long outage costs one batch of
    /// memory and one batch per transaction, however large it is. Returns the records replayed and the unreadable
    /// lines skipped (a torn last line after a crash).
    /// </summary>
    public async Task<(int Replayed, int Skipped)> ReplayAsync(Func<IReadOnlyList<UsageRecord>, Task> write)
    {
        var aside = Path + ".replaying";
        lock (_lock)
        {
            if (!File.Exists(Path))
            {
                return (0, 0);
            }

            File.Move(Path, aside, overwrite: false);
        }

        var replayed = 0;
        var skipped = 0;
        try
        {
            // A failure part-way puts every record back; the batches already written are upserts, so writing them
            // again changes nothing.
            var batch = new List<UsageRecord>(UsageLedgerWriter.MaxBatch);
            foreach (var line in File.ReadLines(aside))
            {
                if (Parse(line, ref skipped) is not { } record)
                {
                    continue;
                }

                batch.Add(record);
                if (batch.Count == UsageLedgerWriter.MaxBatch)
                {
                    await write(batch.ToArray());
                    replayed += batch.Count;
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                await write(batch.ToArray());
                replayed += batch.Count;
            }
        }
        catch
        {
            Restore();
            throw;
        }

        File.Delete(aside);
        return (replayed, skipped);
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

            // Bytes as they are, so nothing is lost to a re-serialisation; copied as a stream, not read whole.
            using (var source = File.OpenRead(aside))
            using (var target = OpenForAppend())
            {
                source.CopyTo(target);
                target.Flush(flushToDisk: true);
            }

            File.Delete(aside);
        }
    }

    private static UsageRecord? Parse(string line, ref int skipped)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(line, UsageLedgerJsonContext.Default.UsageRecord);
        }
        catch (JsonException)
        {
            skipped++;
            return null;
        }
    }
}
