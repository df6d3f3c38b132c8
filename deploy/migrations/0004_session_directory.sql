-- Sessions as the services other than identity know them, from identity's session.opened and
-- session.revoked events (token hashes only).
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      CREATE TABLE %1$I.sessions (
        token_hash  bytea       PRIMARY KEY,
        account_id  uuid        NOT NULL,
        device_id   uuid,
        platform    text        NOT NULL,
        expires_at  timestamptz NOT NULL,
        revoked_at  timestamptz
      );
      CREATE INDEX sessions_account ON %1$I.sessions (account_id) WHERE revoked_at IS NULL;
    $f$, s);
  END LOOP;
END
$$;
