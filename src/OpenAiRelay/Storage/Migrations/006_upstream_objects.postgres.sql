-- Who created each upstream object through the relay (files, vector stores, responses, batches, ...), so that a key
-- sees and touches only its own (Relay:Isolation:Mode=per-key). The owner comes from the create response's id as it
-- passed, never from the client; NULL is an object no key owns (made with a shared RELAY_TOKEN, or released).
CREATE TABLE upstream_objects (
    object_id    text        NOT NULL PRIMARY KEY,
    kind         text        NOT NULL,
    owner_key_id text        NULL,
    parent_id    text        NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX ix_upstream_objects_owner ON upstream_objects (owner_key_id, kind, created_at);
