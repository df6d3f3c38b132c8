-- Identity service: real-name verification tiers, protected ID and card numbers, liveness
-- results, operators and the review queue's decision history. Only registrar-identity touches these
-- (the `registrar operator add` command inserts operators).
SET search_path TO identity;

-- Review operators. The token is shown once by `registrar operator add`; only its SHA-256 is kept.
-- `announced_at` is set when identity published `operator.added` (the other services' directory).
CREATE TABLE operators (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    disabled_at  timestamptz,
    announced_at timestamptz
);
CREATE INDEX operators_unannounced ON operators (created_at) WHERE announced_at IS NULL;

-- Each account's verification tier. `expires_at` NULL = permanent (id_card); `expired_at` is set
-- when the sweep announced `account.verification_expired`, so each expiry is announced once.
CREATE TABLE account_tiers (
    account_id  uuid        PRIMARY KEY REFERENCES accounts (id),
    tier        text        NOT NULL,   -- none | bank_card | id_card
    expires_at  timestamptz,
    expired_at  timestamptz,
    updated_at  timestamptz NOT NULL
);
-- The expiry sweep's claim: tiers that end and were not yet announced.
CREATE INDEX account_tiers_due ON account_tiers (expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL;
-- Accounts created before this migration start with tier none from their registration.
INSERT INTO account_tiers (account_id, tier, expires_at, updated_at)
SELECT id, 'none', created_at + interval '30 days', now() FROM accounts;

-- Submitted bank cards and ID cards. Numbers and names are never stored in clear: `sealed` is
-- AES-256-GCM (or XChaCha20-Poly1305, see PIIProtection.swift) under REGISTRAR_PII_KEY, bound to the
-- account and method; `number_hash` is HMAC-SHA256 under REGISTRAR_HASH_KEY for look-ups
-- (an ID verified on another account); `last4` is the most that is ever shown of a card.
CREATE TABLE verifications (
    id               uuid             PRIMARY KEY,
    account_id       uuid             NOT NULL REFERENCES accounts (id),
    method           text             NOT NULL,   -- bank_card | id_card
    state            text             NOT NULL,   -- verified | pending_review | rejected
    number_hash      bytea            NOT NULL,
    sealed           bytea            NOT NULL,
    last4            text,                        -- cards only
    liveness_passed  boolean,
    liveness_score   double precision,
    check_ms         double precision NOT NULL,   -- how long the check took
    check_sla_ms     double precision NOT NULL,   -- its service level (bankCardCheckSLA / idCardCheckSLA)
    checked_at       timestamptz      NOT NULL,
    review_task_id   uuid             REFERENCES review_tasks (id)
);
CREATE INDEX verifications_number ON verifications (method, number_hash) WHERE state = 'verified';
CREATE INDEX verifications_account ON verifications (account_id, checked_at);

-- Every liveness result, passed or not (the ops dashboard's pass rate).
CREATE TABLE liveness_checks (
    id         bigserial        PRIMARY KEY,
    account_id uuid             NOT NULL REFERENCES accounts (id),
    passed     boolean          NOT NULL,
    score      double precision,
    checked_at timestamptz      NOT NULL
);
CREATE INDEX liveness_checks_time ON liveness_checks (checked_at);

-- The review queue: who decided and when; the verification an id_conflict task is about.
ALTER TABLE review_tasks
    ADD COLUMN verification_id uuid REFERENCES verifications (id),
    ADD COLUMN decided_at      timestamptz,
    ADD COLUMN decided_by      uuid REFERENCES operators (id);

-- Audit of review decisions: who, when, what, note. Rows are never updated or deleted.
CREATE TABLE review_decisions (
    id          bigserial   PRIMARY KEY,
    task_id     uuid        NOT NULL REFERENCES review_tasks (id),
    operator_id uuid        NOT NULL REFERENCES operators (id),
    decision    text        NOT NULL,   -- approve | reject
    note        text        NOT NULL,
    decided_at  timestamptz NOT NULL
);
CREATE INDEX review_decisions_task ON review_decisions (task_id, decided_at);

-- Ops views. The queue with its service levels: open tasks past their due time are overdue.
CREATE VIEW review_queue AS
SELECT t.id, t.kind, t.state, t.created_at, t.due_at, t.decided_at, o.name AS decided_by,
       t.state = 'open' AND t.due_at < now() AS overdue,
       coalesce(t.decided_at, now()) - t.created_at AS age,
       t.decided_at IS NOT NULL AND t.decided_at > t.due_at AS decided_late
FROM review_tasks t LEFT JOIN operators o ON o.id = t.decided_by;

-- Check durations against their service levels, per method and day.
CREATE VIEW verification_check_sla AS
SELECT method, date_trunc('day', checked_at) AS day, count(*) AS checks,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY check_ms) AS p95_ms, max(check_ms) AS max_ms,
       max(check_sla_ms) AS sla_ms, count(*) FILTER (WHERE check_ms > check_sla_ms) AS over_sla
FROM verifications GROUP BY method, date_trunc('day', checked_at);

-- Liveness pass rate per day.
CREATE VIEW liveness_pass_rate AS
SELECT date_trunc('day', checked_at) AS day, count(*) AS checks, count(*) FILTER (WHERE passed) AS passed,
       round(count(*) FILTER (WHERE passed)::numeric / count(*), 4) AS pass_rate
FROM liveness_checks GROUP BY date_trunc('day', checked_at);

RESET search_path;
