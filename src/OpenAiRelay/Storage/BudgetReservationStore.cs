namespace OpenAiRelay.Storage;

/// <summary>
/// Budgets held exactly by the database itself (<c>budget_reservations</c> beside <c>usage_records</c>), for when the
/// store every instance shares for counters (Redis) does not answer. A key's budget is checked against its settled
/// ledger rows of the period plus its open reservations, and a reservation is written only when it fits: one write
/// transaction per admission, serialised per key across instances, so concurrent requests on any number of instances
/// cannot reserve more than remains.
/// </summary>
/// <remarks>
/// <para>A reservation is named by its request's ledger id and stops counting the moment that request's ledger row
/// lands settled with a cost: the cost moves from the reservations to the ledger in one commit, so nothing is counted
/// twice or not at all, and settlement writes nothing here. A row that lands without a cost (a background generation,
/// a model without a price) leaves its reservation counting, as unknown is never free.</para>
/// <para>Each reservation has a lease on the store's clock (PostgreSQL's <c>now()</c>), renewed while its request runs:
/// a relay that was killed stops renewing, and its reservations are dropped by the next admission of their key.</para>
/// </remarks>
internal sealed class BudgetReservationStore(RelayDatabase database, TimeProvider time)
{
    private const string Ledger = "FROM usage_records WHERE key_id = @key_id AND started_at >= @since AND cost_micros IS NOT NULL";

    // One statement, so one snapshot: a ledger row that lands while it runs is counted in the ledger or as a
    // reservation, never neither. The ledger's total is summed in two parts, as UsageStore does.
    private static readonly string s_spentSql =
        $"SELECT (SELECT SUM(cost_micros / {UsageStore.SplitUnit}) {Ledger}), (SELECT SUM(cost_micros % {UsageStore.SplitUnit}) {Ledger}), " +
        $"(SELECT SUM(r.micros) FROM budget_reservations r WHERE r.key_id = @key_id AND NOT {Landed("r")});";

    private string ExpireSql => $"DELETE FROM budget_reservations WHERE key_id = @key_id AND (expires_at < {database.ClockSql} OR {Landed("budget_reservations")});";

    private string InsertSql => $"INSERT INTO budget_reservations (lease_id, key_id, micros, expires_at) VALUES (@lease_id, @key_id, @micros, {database.ClockPlusLeaseSql});";

    private string RenewSql => $"UPDATE budget_reservations SET expires_at = {database.ClockPlusLeaseSql} WHERE lease_id = @lease_id;";

    /// <summary>
    /// Reserves <paramref name="micros"/> of <paramref name="keyId"/>'s <paramref name="budgetMicros"/> for the
    /// period that began at <paramref name="periodStart"/>, for one lease, if it fits whole (never clamped). Returns
    /// whether it was reserved and the key's spent plus reserved micro-dollars as the database saw them (with this
    /// reservation when it was made).
    /// </summary>
    /// <exception cref="System.Data.Common.DbException">The database could not be reached: nothing was reserved.</exception>
    public async Task<(bool Reserved, long Total)> TryReserveAsync(
        string keyId, string leaseId, long micros, long budgetMicros, DateTimeOffset periodStart, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        if (database.LockKeySql is { } lockSql)
        {
            using var take = database.Command(connection, lockSql, transaction).With("@key_id", keyId);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        using (var expire = Bind(database.Command(connection, ExpireSql, transaction), lease).With("@key_id", keyId))
        {
            await expire.ExecuteNonQueryAsync(cancellationToken);
        }

        long total;
        using (var spent = database.Command(connection, s_spentSql, transaction)
            .With("@key_id", keyId)
            .With("@since", database.ToDbTimestamp(periodStart)))
        {
            await using var reader = await spent.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            total = UsageStore.ReadSplitSum(reader, 0) + reader.ReadLong(2);
        }

        var available = budgetMicros - total;
        if (available <= 0 || micros > available)
        {
            await transaction.RollbackAsync(cancellationToken);
            return (false, total);
        }

        using (var insert = Bind(database.Command(connection, InsertSql, transaction), lease)
            .With("@lease_id", leaseId)
            .With("@key_id", keyId)
            .With("@micros", micros))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (true, total + micros);
    }

    /// <summary>Pushes the leases of running requests out by <paramref name="lease"/> from now, on the store's clock.</summary>
    public async Task RenewAsync(IReadOnlyCollection<string> leaseIds, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (leaseIds.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        using var renew = Bind(database.Command(connection, RenewSql, transaction), lease).With("@lease_id", null);
        foreach (var id in leaseIds)
        {
            renew.Set("@lease_id", id);
            await renew.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Sets what a reservation counts (a session's responses so far, when they passed it) and, with
    /// <paramref name="until"/>, holds it to then: a cost the relay could not learn stays reserved to the period's end.
    /// </summary>
    public async Task UpdateAsync(string leaseId, long micros, DateTimeOffset? until, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var sql = until is null
            ? "UPDATE budget_reservations SET micros = @micros WHERE lease_id = @lease_id;"
            : "UPDATE budget_reservations SET micros = @micros, expires_at = @until WHERE lease_id = @lease_id;";
        using var update = database.Command(connection, sql).With("@lease_id", leaseId).With("@micros", micros);
        if (until is { } end)
        {
            update.With("@until", database.ToDbTimestamp(end));
        }

        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Drops a reservation whose request was refused by another limit after all (it never counted as spend).</summary>
    public async Task ReleaseAsync(string leaseId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var delete = database.Command(connection, "DELETE FROM budget_reservations WHERE lease_id = @lease_id;").With("@lease_id", leaseId);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The open reservations of <paramref name="keyId"/> (expired or not), in micro-dollars: for tests and the admin view.</summary>
    public async Task<long> ReservedAsync(string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var sum = database.Command(connection, $"SELECT SUM(r.micros) FROM budget_reservations r WHERE r.key_id = @key_id AND NOT {Landed("r")};").With("@key_id", keyId);
        await using var reader = await sum.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.ReadLong(0) : 0;
    }

    /// <summary>A reservation whose request's ledger row is settled with a cost: the ledger counts it from then on.</summary>
    private static string Landed(string reservation) =>
        $"EXISTS (SELECT 1 FROM usage_records u WHERE u.request_id = {reservation}.lease_id AND u.outcome <> 'in_flight' AND u.cost_micros IS NOT NULL)";

    /// <summary>Binds the clock parameters the engine's SQL names: the store's own clock needs none.</summary>
    private System.Data.Common.DbCommand Bind(System.Data.Common.DbCommand command, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        if (command.CommandText.Contains("@now", StringComparison.Ordinal))
        {
            command.With("@now", database.ToDbTimestamp(now));
        }

        if (command.CommandText.Contains("@expires", StringComparison.Ordinal))
        {
            command.With("@expires", database.ToDbTimestamp(now + lease));
        }

        if (command.CommandText.Contains("@lease_ms", StringComparison.Ordinal))
        {
            command.With("@lease_ms", lease.TotalMilliseconds);
        }

        return command;
    }
}
