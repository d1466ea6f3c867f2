-- A key's policy (rate, concurrency, endpoints), as the admin API's JSON object; NULL is no limit of its own
-- (Relay:Limits:Default applies).
ALTER TABLE client_keys ADD COLUMN policy TEXT NULL;
