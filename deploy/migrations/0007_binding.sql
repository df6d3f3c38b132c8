-- Binding service: linked third-party accounts, their expiring authorizations, migration plans and
-- what binding knows of account lifecycles (from deregistration's events). Only registrar-binding
-- touches these.
SET search_path TO binding;

-- Frozen and deregistered accounts, from deregistration.events.
CREATE TABLE accounts (
    account_id      uuid        PRIMARY KEY,
    frozen          boolean     NOT NULL DEFAULT false,
    deregistered_at timestamptz
);

-- One binding per account and provider. An external account is bound to at most one Registrar
-- account; an account has at most one primary binding.
CREATE TABLE bindings (
    account_id          uuid        NOT NULL,
    provider            text        NOT NULL,
    external_account_id text        NOT NULL,
    mode                text        NOT NULL CHECK (mode IN ('primary', 'secondary', 'temporary')),
    scopes              text[]      NOT NULL,   -- scopes held now (an expired friend_list is removed)
    linked_at           timestamptz NOT NULL,
    expires_at          timestamptz,            -- temporary bindings only
    state               text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
    PRIMARY KEY (account_id, provider),
    CONSTRAINT bindings_external_account UNIQUE (provider, external_account_id),
    CHECK ((mode = 'temporary') = (expires_at IS NOT NULL))
);
CREATE UNIQUE INDEX bindings_one_primary ON bindings (account_id) WHERE mode = 'primary';
CREATE INDEX bindings_temporary_due ON bindings (expires_at) WHERE expires_at IS NOT NULL;

-- Scope grants that expire (friend_list). `expired_at` is set by the sweep in the transaction that
-- publishes binding.authorization_expired, so each expiry is published exactly once.
CREATE TABLE authorizations (
    account_id uuid        NOT NULL,
    provider   text        NOT NULL,
    scope      text        NOT NULL,
    granted_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    expired_at timestamptz,
    PRIMARY KEY (account_id, provider, scope),
    FOREIGN KEY (account_id, provider) REFERENCES bindings (account_id, provider) ON DELETE CASCADE
);
CREATE INDEX authorizations_due ON authorizations (expires_at) WHERE expired_at IS NULL;

-- Migration plans: counts per outcome only (a manifest's items are never stored).
CREATE TABLE migration_plans (
    plan_id            uuid        PRIMARY KEY,
    account_id         uuid        NOT NULL,
    items              bigint      NOT NULL,
    counts             jsonb       NOT NULL,   -- {"auto": n, "manual": n, ...}
    free_storage_bytes bigint      NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX migration_plans_account ON migration_plans (account_id);

RESET search_path;
