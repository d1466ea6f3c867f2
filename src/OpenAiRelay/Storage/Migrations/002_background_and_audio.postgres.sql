-- A background generation (Responses "background": true) is billed once, when a later read of it shows its final
-- status: its row waits as outcome 'background' under the upstream's response id.
ALTER TABLE usage_records ADD COLUMN response_id text NULL;
-- Duration-billed audio (whisper-1 reports seconds, not tokens), in milliseconds.
ALTER TABLE usage_records ADD COLUMN audio_ms bigint NOT NULL DEFAULT 0;
CREATE INDEX ix_usage_records_background ON usage_records (response_id) WHERE outcome = 'background';
