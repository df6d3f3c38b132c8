-- SMS cost limits (issue 8). Each service that sends SMS keeps its own global send budget: one row
-- per SMS sent within `sms.globalWindow` (older rows are deleted as new ones are counted). The
-- deregistration service also counts revoke-code requests per phone (keyed hash), whether or not
-- the phone is known, within `deregistration.revokeCodeWindow`.
CREATE TABLE identity.sms_sends (
    id      bigserial   PRIMARY KEY,
    sent_at timestamptz NOT NULL
);
CREATE INDEX sms_sends_at ON identity.sms_sends (sent_at);

CREATE TABLE deregistration.sms_sends (
    id      bigserial   PRIMARY KEY,
    sent_at timestamptz NOT NULL
);
CREATE INDEX sms_sends_at ON deregistration.sms_sends (sent_at);

CREATE TABLE deregistration.revoke_code_requests (
    id           bigserial   PRIMARY KEY,
    phone_hash   text        NOT NULL,
    requested_at timestamptz NOT NULL
);
CREATE INDEX revoke_code_requests_phone ON deregistration.revoke_code_requests (phone_hash, requested_at);
CREATE INDEX revoke_code_requests_at ON deregistration.revoke_code_requests (requested_at);
