-- Permissions service: the entitlement read model (from identity's and deregistration's events),
-- daily quotas, enterprises and their members. Only registrar-permissions touches these.
SET search_path TO permissions;

CREATE TABLE accounts (
    account_id        uuid        PRIMARY KEY,
    registered_at     timestamptz NOT NULL,
    timezone          text        NOT NULL DEFAULT 'Asia/Shanghai',
    tier              text        NOT NULL DEFAULT 'none',
    tier_expires_at   timestamptz,
    tier_expired      boolean     NOT NULL DEFAULT false,
    restricted        text[]      NOT NULL DEFAULT '{}',
    frozen            boolean     NOT NULL DEFAULT false,
    locked            boolean     NOT NULL DEFAULT false,
    deregistered      boolean     NOT NULL DEFAULT false,
    successful_logins integer     NOT NULL DEFAULT 0,
    last_mismatch_at  timestamptz,
    grants            text[]      NOT NULL DEFAULT '{}',
    next_change_at    timestamptz
);
CREATE INDEX accounts_next_change ON accounts (next_change_at) WHERE next_change_at IS NOT NULL;

-- Distinct days (policy.permissions.dayLength, local time) with a login or an allowed check.
CREATE TABLE active_days (
    account_id uuid   NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    day        bigint NOT NULL,
    PRIMARY KEY (account_id, day)
);

-- Daily quota use, taken atomically: a row's `used` never exceeds the cap it was taken under.
CREATE TABLE quota_usage (
    account_id uuid   NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    kind       text   NOT NULL,
    day        bigint NOT NULL,
    used       bigint NOT NULL,
    PRIMARY KEY (account_id, kind, day)
);

CREATE TABLE enterprises (
    enterprise_id    text        PRIMARY KEY,
    name             text        NOT NULL,
    admin_account_id uuid        NOT NULL,
    created_at       timestamptz NOT NULL
);

CREATE TABLE enterprise_members (
    enterprise_id text        NOT NULL REFERENCES enterprises (enterprise_id),
    account_id    uuid        NOT NULL,
    role          text        NOT NULL DEFAULT 'member',   -- member | admin
    joined_at     timestamptz NOT NULL,
    PRIMARY KEY (enterprise_id, account_id)
);
CREATE INDEX enterprise_members_account ON enterprise_members (account_id);

-- Overrides per member, or for every member ('*'); null fields do not override.
CREATE TABLE enterprise_policies (
    enterprise_id         text    NOT NULL REFERENCES enterprises (enterprise_id),
    member                text    NOT NULL,   -- an account id or '*'
    moments_enabled       boolean,
    max_external_contacts integer,
    PRIMARY KEY (enterprise_id, member)
);

RESET search_path;

-- Operators as permissions knows them, from identity's operator.added events (token hashes only).
CREATE TABLE permissions.operators (
    token_hash  bytea PRIMARY KEY,
    operator_id text  NOT NULL
);
