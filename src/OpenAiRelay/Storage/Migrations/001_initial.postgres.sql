CREATE TABLE client_keys (
    key_id      text        NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    secret_hash bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NULL,
    revoked_at  timestamptz NULL
);

-- A name is reusable once its key is revoked.
CREATE UNIQUE INDEX ux_client_keys_active_name ON client_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE usage_records (
    request_id             text        NOT NULL PRIMARY KEY,
    key_id                 text        NOT NULL,
    key_label              text        NOT NULL,
    model                  text        NULL,
    endpoint               text        NOT NULL,
    method                 text        NOT NULL,
    status                 integer     NOT NULL,
    input_tokens           bigint      NOT NULL,
    cached_tokens          bigint      NOT NULL,
    output_tokens          bigint      NOT NULL,
    reasoning_tokens       bigint      NOT NULL,
    estimated              boolean     NOT NULL,
    cost_micros            bigint      NULL,
    latency_ms             bigint      NOT NULL,
    ttfb_ms                bigint      NULL,
    bytes_in               bigint      NOT NULL,
    bytes_out              bigint      NOT NULL,
    upstream_request_id    text        NULL,
    outcome                text        NOT NULL,
    started_at             timestamptz NOT NULL,
    ended_at               timestamptz NULL,
    estimated_input_tokens bigint      NOT NULL
);

CREATE INDEX ix_usage_records_started_at ON usage_records (started_at);
CREATE INDEX ix_usage_records_key_started ON usage_records (key_id, started_at);
-- Start-up reconciliation looks for rows left in flight by a crash.
CREATE INDEX ix_usage_records_in_flight ON usage_records (outcome) WHERE outcome = 'in_flight';
