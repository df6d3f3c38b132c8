-- Account self-service (issue 16): sessions with access and refresh tokens, password reset, phone
-- change, profile. Identity's tables, and the session directories of the other services.
SET search_path TO identity;

-- A session is one sign-in: a family of refresh tokens rotated one after the other. `token_hash`
-- and `expires_at` are the current access token's; `refresh_hash` and `refresh_expires_at` the
-- current refresh token's. Sessions made before this migration have no refresh token.
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD COLUMN id uuid;
UPDATE sessions SET id = gen_random_uuid();
ALTER TABLE sessions ALTER COLUMN id SET NOT NULL;
ALTER TABLE sessions ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
ALTER TABLE sessions
    ADD COLUMN refresh_hash       bytea,
    ADD COLUMN refresh_expires_at timestamptz,
    ADD COLUMN last_used_at       timestamptz,
    ADD COLUMN revoke_reason      text;
UPDATE sessions SET refresh_expires_at = expires_at, last_used_at = created_at;
ALTER TABLE sessions ALTER COLUMN refresh_expires_at SET NOT NULL, ALTER COLUMN last_used_at SET NOT NULL;
CREATE UNIQUE INDEX sessions_refresh ON sessions (refresh_hash);

-- Refresh tokens already exchanged: presenting one again revokes its whole session (the OAuth 2.0
-- security BCP's reuse detection). Kept while the session's row is.
CREATE TABLE rotated_refresh_tokens (
    refresh_hash bytea       PRIMARY KEY,
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at   timestamptz NOT NULL
);
CREATE INDEX rotated_refresh_tokens_session ON rotated_refresh_tokens (session_id);

ALTER TABLE accounts
    ADD COLUMN avatar_ref       text,
    -- The end of the deregistration cool-down (from account.frozen), cleared on unfreeze.
    ADD COLUMN cooldown_ends_at timestamptz;
ALTER TABLE devices ADD COLUMN last_login_at timestamptz;

-- password.reset.start: one row per start, for every phone (known or not, so counts and answers
-- are alike). `account_id` is set only when a code was sent; an unknown phone's row holds the hash
-- of a code nobody received, so a guess fails the same way.
CREATE TABLE password_resets (
    id          uuid        PRIMARY KEY,
    phone       text        NOT NULL,
    account_id  uuid        REFERENCES accounts (id),
    print_id    uuid        REFERENCES device_prints (id),
    ip_address  text        NOT NULL,
    code_hash   bytea       NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX password_resets_phone ON password_resets (phone, created_at);
CREATE INDEX password_resets_ip ON password_resets (ip_address, created_at);
CREATE INDEX password_resets_print ON password_resets (print_id, created_at);

-- phone.change.start: codes to the old and the new number. state: open | completed | pending_review
-- | superseded | refused (the new number was taken) | rejected (review).
CREATE TABLE phone_changes (
    id             uuid        PRIMARY KEY,
    account_id     uuid        NOT NULL REFERENCES accounts (id),
    new_phone      text        NOT NULL,
    old_code_hash  bytea       NOT NULL,
    new_code_hash  bytea       NOT NULL,
    attempts       integer     NOT NULL DEFAULT 0,
    state          text        NOT NULL DEFAULT 'open',
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    closed_at      timestamptz
);
CREATE INDEX phone_changes_account ON phone_changes (account_id, created_at);

-- A phone_change review task names its change.
ALTER TABLE review_tasks ADD COLUMN phone_change_id uuid REFERENCES phone_changes (id);

RESET search_path;

-- The other services' session directories learn the session id, so one session (logout) or all but
-- one can be revoked, and a refresh replaces the access token of its session.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      ALTER TABLE %1$I.sessions ADD COLUMN session_id uuid;
      CREATE INDEX sessions_session ON %1$I.sessions (session_id);
    $f$, s);
  END LOOP;
END
$$;
