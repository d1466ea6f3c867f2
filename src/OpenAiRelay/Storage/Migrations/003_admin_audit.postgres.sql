-- Every admin action (a key created or revoked; policy changes next): who by label and address, when, never a secret.
CREATE TABLE admin_audit (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL,
    actor    text NOT NULL,
    address  text NULL,
    action   text NOT NULL,
    target   text NOT NULL
);
CREATE INDEX ix_admin_audit_at ON admin_audit (at);
