-- The object's JSON as it last passed through the relay (its create response, or its owner's last read of it): what a
-- key's own list of a family is served from (Relay:Isolation:Mode=per-key), so its pages hold only its objects.
ALTER TABLE upstream_objects ADD COLUMN snapshot text NULL;
