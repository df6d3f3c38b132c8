-- Seed rows, identity (issue 18): device keys for biometric sign-in, their single-use challenges,
-- and the step-up level a new device's security answers must reach. Only registrar-identity
-- touches these.
SET search_path TO identity;

-- A bound device's public key (`device.key.register`): one per device, replaced by a new
-- registration; deleted on unbind, password reset or change, support sign-out and the purge.
CREATE TABLE device_keys (
    id            uuid        PRIMARY KEY,
    account_id    uuid        NOT NULL REFERENCES accounts (id),
    device_id     uuid        NOT NULL UNIQUE REFERENCES devices (id),
    algorithm     text        NOT NULL,   -- ed25519
    public_key    bytea       NOT NULL,
    registered_at timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX device_keys_account ON device_keys (account_id);

-- `login.challenge`: a random nonce the device signs; answered once (`used_at`), valid until
-- `expires_at`. A new challenge (or key) for the device deletes its earlier ones, so a device keeps
-- at most one row and nothing needs pruning.
CREATE TABLE device_key_challenges (
    id         uuid        PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id),
    device_id  uuid        NOT NULL REFERENCES devices (id),
    nonce      bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX device_key_challenges_device ON device_key_challenges (device_id);
CREATE INDEX device_key_challenges_account ON device_key_challenges (account_id);

-- The step-up level (basic | medium | high) a new device's security answers must reach: the
-- account's stage risk when the challenge opened (`risk.newDeviceStepUp`). Older challenges: basic.
ALTER TABLE challenges ADD COLUMN required_level text NOT NULL DEFAULT 'basic';
ALTER TABLE challenges ADD COLUMN risk_level text;

-- review_tasks.kind gains `risk_review` (a high security check completed by a reviewer); like
-- `international_number` it names the registration.
COMMENT ON COLUMN review_tasks.kind IS 'international_number | id_conflict | phone_change | risk_review';

RESET search_path;
