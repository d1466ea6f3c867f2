-- Budget reservations held in the database while Redis (REDIS_URL) does not answer: one row per admitted request,
-- named by its ledger request id. It counts against its key's budget until that request's ledger row lands settled
-- (or the lease expires: a relay that was killed stops renewing it), so the ledger plus the open reservations is what
-- every instance checks a budget against, in one write transaction.
CREATE TABLE budget_reservations (
    lease_id   TEXT    NOT NULL PRIMARY KEY,
    key_id     TEXT    NOT NULL,
    micros     INTEGER NOT NULL,
    expires_at TEXT    NOT NULL
);

CREATE INDEX ix_budget_reservations_key ON budget_reservations (key_id, expires_at);
