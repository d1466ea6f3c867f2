-- Timestamps are UTC text in one fixed-width ISO 8601 form ('2026-11-26T13:06:14.1234567Z'), so text order is time order.
CREATE TABLE client_keys (
    key_id      TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NULL,
    revoked_at  TEXT NULL
);

-- A name is reusable once its key is revoked.
CREATE UNIQUE INDEX ux_client_keys_active_name ON client_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE usage_records (
    request_id             TEXT    NOT NULL PRIMARY KEY,
    key_id                 TEXT    NOT NULL,
    key_label              TEXT    NOT NULL,
    model                  TEXT    NULL,
    endpoint               TEXT    NOT NULL,
    method                 TEXT    NOT NULL,
    status                 INTEGER NOT NULL,
    input_tokens           INTEGER NOT NULL,
    cached_tokens          INTEGER NOT NULL,
    output_tokens          INTEGER NOT NULL,
    reasoning_tokens       INTEGER NOT NULL,
    estimated              INTEGER NOT NULL,
    cost_micros            INTEGER NULL,
    latency_ms             INTEGER NOT NULL,
    ttfb_ms                INTEGER NULL,
    bytes_in               INTEGER NOT NULL,
    bytes_out              INTEGER NOT NULL,
    upstream_request_id    TEXT    NULL,
    outcome                TEXT    NOT NULL,
    started_at             TEXT    NOT NULL,
    ended_at               TEXT    NULL,
    estimated_input_tokens INTEGER NOT NULL
);

CREATE INDEX ix_usage_records_started_at ON usage_records (started_at);
CREATE INDEX ix_usage_records_key_started ON usage_records (key_id, started_at);
-- Start-up reconciliation looks for rows left in flight by a crash.
CREATE INDEX ix_usage_records_in_flight ON usage_records (outcome) WHERE outcome = 'in_flight';
