-- Deregistration service: accounts as it knows them (from identity's events, phone as keyed hash
-- only), enterprise admins (from permissions' events), requests with their cool-down, revoke codes,
-- per-device deregistration counts and locks, and an audit trail that outlives every purge.
SET search_path TO deregistration;

CREATE TABLE accounts (
    account_id uuid        PRIMARY KEY,
    phone_hash text        NOT NULL,
    registered_at timestamptz NOT NULL
);
CREATE INDEX accounts_phone_hash ON accounts (phone_hash);

CREATE TABLE enterprise_admins (
    enterprise_id text PRIMARY KEY,
    account_id    uuid NOT NULL
);
CREATE INDEX enterprise_admins_account ON enterprise_admins (account_id);

-- Devices recognised by fingerprint (similarity >= devices.similarityThreshold), with the same
-- tables as identity's so that one piece of code (DevicePrints) recognises them in both.
CREATE TABLE device_prints (
    id              uuid        PRIMARY KEY,
    attribute_count integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    locked_at       timestamptz
);
CREATE TABLE device_print_attributes (
    print_id uuid NOT NULL REFERENCES device_prints (id) ON DELETE CASCADE,
    name     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (print_id, name)
);
CREATE INDEX device_print_attributes_lookup ON device_print_attributes (name, value);

-- One deregistration: frozen at request, revocable until cooldown_ends_at, then finalized.
CREATE TABLE requests (
    id                uuid        PRIMARY KEY,
    account_id        uuid        NOT NULL,
    print_id          uuid        NOT NULL REFERENCES device_prints (id),
    state             text        NOT NULL,   -- cooling | revoked | finalized
    requested_at      timestamptz NOT NULL,
    cooldown_ends_at  timestamptz NOT NULL,
    revoke_code_hash  bytea,
    revoke_code_expires_at timestamptz,
    revoke_attempts   integer     NOT NULL DEFAULT 0,
    closed_at         timestamptz
);
-- At most one open request per account.
CREATE UNIQUE INDEX requests_open ON requests (account_id) WHERE state = 'cooling';
CREATE INDEX requests_due ON requests (cooldown_ends_at) WHERE state = 'cooling';
CREATE INDEX requests_print ON requests (print_id, requested_at);

-- Every step, without personal data: kept after the purge.
CREATE TABLE audit (
    id         bigserial   PRIMARY KEY,
    account_id uuid        NOT NULL,
    step       text        NOT NULL,   -- requested | revoked | finalized | purged:<service> | device_locked
    detail     jsonb       NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL
);
CREATE INDEX audit_account ON audit (account_id, at);

RESET search_path;
