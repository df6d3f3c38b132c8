-- Identity service: registrations, accounts, recognised devices, bound devices, sessions,
-- challenges, scan tickets, phone blocks and review tasks. Only registrar-identity touches these.
SET search_path TO identity;

-- A physical device as recognised by its fingerprint (similarity >= devices.similarityThreshold).
CREATE TABLE device_prints (
    id              uuid        PRIMARY KEY,
    attribute_count integer     NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE TABLE device_print_attributes (
    print_id uuid NOT NULL REFERENCES device_prints (id) ON DELETE CASCADE,
    name     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (print_id, name)
);
CREATE INDEX device_print_attributes_lookup ON device_print_attributes (name, value);

-- One registration flow, start to account (or expiry).
CREATE TABLE registrations (
    id                 uuid        PRIMARY KEY,
    phone              text        NOT NULL,
    international      boolean     NOT NULL,
    platform           text        NOT NULL,
    device             jsonb       NOT NULL,
    print_id           uuid        NOT NULL REFERENCES device_prints (id),
    known_device       boolean     NOT NULL,
    ip_address         text        NOT NULL,
    ip                 jsonb       NOT NULL,
    step               text        NOT NULL,
    restricted         text[]      NOT NULL DEFAULT '{}',
    warnings           text[]      NOT NULL DEFAULT '{}',
    sms_code_hash      bytea,
    sms_expires_at     timestamptz,
    sms_attempts       integer     NOT NULL DEFAULT 0,
    password_hash      text,
    display_name       text,
    security_questions jsonb,
    risk_level         text,
    risk_factors       text[],
    account_id         uuid,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL
);
CREATE INDEX registrations_phone ON registrations (phone, created_at);
CREATE INDEX registrations_ip ON registrations (ip_address, created_at);
CREATE INDEX registrations_print ON registrations (print_id, created_at);

CREATE TABLE accounts (
    id                    uuid        PRIMARY KEY,
    phone                 text        NOT NULL,
    status                text        NOT NULL DEFAULT 'active',   -- active | frozen | deregistered
    display_name          text        NOT NULL,
    password_hash         text        NOT NULL,
    security_questions    jsonb,
    restricted            text[]      NOT NULL DEFAULT '{}',
    registration_id       uuid        NOT NULL UNIQUE,
    registered_on         uuid        NOT NULL REFERENCES device_prints (id),
    failed_logins         integer     NOT NULL DEFAULT 0,
    failure_window_start  timestamptz,
    lockouts              integer     NOT NULL DEFAULT 0,
    locked_until          timestamptz,
    locked                boolean     NOT NULL DEFAULT false,
    wrong_answers         integer     NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL
);
-- One live or frozen account per phone.
CREATE UNIQUE INDEX accounts_live_phone ON accounts (phone) WHERE status <> 'deregistered';
CREATE INDEX accounts_registered_on ON accounts (registered_on) WHERE status <> 'deregistered';

-- Devices bound to an account.
CREATE TABLE devices (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    print_id    uuid        NOT NULL REFERENCES device_prints (id),
    fingerprint jsonb       NOT NULL,
    platform    text        NOT NULL,
    model       text        NOT NULL,
    bound_at    timestamptz NOT NULL,
    unbound_at  timestamptz
);
CREATE INDEX devices_account ON devices (account_id) WHERE unbound_at IS NULL;

CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id),
    device_id  uuid        REFERENCES devices (id),
    platform   text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;

-- A login from an unrecognised device, waiting for approval or security answers.
CREATE TABLE challenges (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    print_id    uuid        NOT NULL REFERENCES device_prints (id),
    fingerprint jsonb       NOT NULL,
    platform    text        NOT NULL,
    model       text        NOT NULL,
    methods     text[]      NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    outcome     text
);

CREATE TABLE scan_tickets (
    ticket_hash bytea       PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Phones released by deregistration, blocked for registration.phoneReuseCooldown.
CREATE TABLE phone_blocks (
    phone         text        PRIMARY KEY,
    blocked_until timestamptz NOT NULL
);

CREATE TABLE review_tasks (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL,   -- international_number | id_conflict
    registration_id uuid        REFERENCES registrations (id),
    account_id      uuid        REFERENCES accounts (id),
    evidence        jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'open',   -- open | approved | rejected
    due_at          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX review_tasks_open ON review_tasks (due_at) WHERE state = 'open';

RESET search_path;
