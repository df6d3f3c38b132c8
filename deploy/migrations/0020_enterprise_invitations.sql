-- Issue 18, permissions: enterprise invitations (accepted or declined by the invitee's session,
-- open for permissions.invitationValidity) and the external contacts each account holds (the
-- enterprise's total cap counts them). Deregistration: the reminder sent before the cool-down ends,
-- marked on the request in the transaction that sends it (once per request).
SET search_path TO permissions;

CREATE TABLE enterprise_invitations (
    invitation_id uuid        PRIMARY KEY,
    enterprise_id text        NOT NULL REFERENCES enterprises (enterprise_id),
    account_id    uuid        NOT NULL,
    role          text        NOT NULL DEFAULT 'member',   -- member | admin
    state         text        NOT NULL DEFAULT 'pending',  -- pending | accepted | declined | expired
    invited_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    closed_at     timestamptz
);
-- At most one open invitation of an account to an enterprise.
CREATE UNIQUE INDEX enterprise_invitations_open ON enterprise_invitations (enterprise_id, account_id)
    WHERE state = 'pending';
CREATE INDEX enterprise_invitations_account ON enterprise_invitations (account_id);

ALTER TABLE accounts ADD COLUMN external_contacts integer NOT NULL DEFAULT 0;

RESET search_path;

ALTER TABLE deregistration.requests ADD COLUMN reminded_at timestamptz;
CREATE INDEX requests_remind ON deregistration.requests (cooldown_ends_at)
    WHERE state = 'cooling' AND reminded_at IS NULL;
