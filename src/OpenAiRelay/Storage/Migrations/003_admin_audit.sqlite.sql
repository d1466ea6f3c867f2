-- Every admin action (a key created or revoked; policy changes next): who by label and address, when, never a secret.
CREATE TABLE admin_audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    address  TEXT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL
);
CREATE INDEX ix_admin_audit_at ON admin_audit (at);
