-- Retention after deregistration (contract §4): enterprise contacts and memberships are kept for
-- deregistration.contactRetention, financial records are archived under a pseudonym for good, and
-- the deregistration service collects every service's purge confirmation.
ALTER TABLE permissions.accounts ADD COLUMN purge_contacts_at timestamptz;
CREATE INDEX accounts_purge_contacts ON permissions.accounts (purge_contacts_at) WHERE purge_contacts_at IS NOT NULL;

CREATE TABLE permissions.financial_archive (
    pseudonym   text        NOT NULL,   -- keyed hash of the account id
    kind        text        NOT NULL,
    day         bigint      NOT NULL,
    amount      bigint      NOT NULL,
    archived_at timestamptz NOT NULL,
    PRIMARY KEY (pseudonym, kind, day)
);

CREATE TABLE deregistration.purges (
    account_id   uuid        NOT NULL,
    service      text        NOT NULL,
    category     text        NOT NULL,
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, service, category)
);
ALTER TABLE deregistration.requests ADD COLUMN purged_at timestamptz;
