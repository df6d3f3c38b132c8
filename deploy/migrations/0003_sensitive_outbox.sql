-- Outbox rows that carry secrets (session tokens in replies, SMS codes) are marked sensitive; the
-- relay blanks their payload once the broker confirmed them, so no table keeps them afterwards.
ALTER TABLE identity.outbox ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE permissions.outbox ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE binding.outbox ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE deregistration.outbox ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
