-- Data export and consents (issue 17). Identity's tables; the other services keep nothing new
-- (they answer an export from what they hold, and binding's sharing consent is the binding itself).
SET search_path TO identity;

-- An export (`account.export`): deleted by the sweep at `expires_at`, and by the personal-data purge
-- at deregistration. `parts` is set when every service's part arrived and the bundle was cut.
CREATE TABLE exports (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES accounts (id),
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ready_at     timestamptz,
    parts        integer
);
CREATE INDEX exports_account ON exports (account_id, requested_at);
CREATE INDEX exports_expiry ON exports (expires_at);

-- The services' parts while the export waits for the others; deleted once the bundle is cut.
CREATE TABLE export_parts (
    export_id   uuid        NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    service     text        NOT NULL,
    data        jsonb       NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (export_id, service)
);

-- The bundle's JSON text cut into parts small enough for one reply each.
CREATE TABLE export_chunks (
    export_id uuid    NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    part      integer NOT NULL,
    data      text    NOT NULL,
    PRIMARY KEY (export_id, part)
);

-- The account's consents, one row per kind (privacy_policy, id_number, biometric,
-- device_identifiers). Accounts registered before this migration have no rows: they read as given
-- (privacy policy of version `null`, accepted before consents were recorded).
CREATE TABLE consents (
    account_id uuid        NOT NULL REFERENCES accounts (id),
    kind       text        NOT NULL,
    granted    boolean     NOT NULL,
    version    text,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- What a registration's agreement step recorded (`registration.start`'s `consents`), copied to
-- `consents` when the account is created.
ALTER TABLE registrations ADD COLUMN consents jsonb;

RESET search_path;
