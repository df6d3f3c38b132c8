-- Read-only views for ops people in psql (the only place that looks across schemas).
-- Dashboards in deploy/dashboards/*.sql read these.
CREATE SCHEMA IF NOT EXISTS ops;

-- Registration funnel by platform and day (UTC): how far each started registration got.
CREATE VIEW ops.registration_funnel AS
SELECT date_trunc('day', created_at)::date AS day,
       platform,
       count(*) AS started,
       count(*) FILTER (WHERE step <> 'verify_sms') AS sms_verified,
       count(*) FILTER (WHERE step NOT IN ('verify_sms', 'set_password')) AS password_set,
       count(*) FILTER (WHERE step NOT IN ('verify_sms', 'set_password', 'complete_profile')) AS profile_done,
       count(*) FILTER (WHERE risk_level = 'medium') AS step_up_medium,
       count(*) FILTER (WHERE risk_level = 'high') AS step_up_high,
       count(*) FILTER (WHERE step = 'completed') AS registered,
       round(100.0 * count(*) FILTER (WHERE step = 'completed') / count(*), 1) AS registered_pct
FROM identity.registrations
GROUP BY 1, 2;

-- Step-up levels by factor and day, beside the policy table's shares.
CREATE VIEW ops.step_up_by_factor AS
SELECT date_trunc('day', created_at)::date AS day,
       factor,
       count(*) AS registrations,
       round(100.0 * count(*) FILTER (WHERE risk_level IN ('medium', 'high')) / count(*), 1) AS medium_or_high_pct,
       round(100.0 * count(*) FILTER (WHERE risk_level = 'high') / count(*), 1) AS high_pct
FROM identity.registrations, unnest(risk_factors) AS factor
WHERE risk_level IS NOT NULL
GROUP BY 1, 2;

-- Devices holding accounts, nearest the limit first.
CREATE VIEW ops.devices_near_limits AS
SELECT registered_on AS device, count(*) AS live_accounts
FROM identity.accounts WHERE status <> 'deregistered'
GROUP BY 1 HAVING count(*) >= 2;

-- Accounts with many bound devices.
CREATE VIEW ops.accounts_near_device_limit AS
SELECT account_id, count(*) AS bound_devices
FROM identity.devices WHERE unbound_at IS NULL
GROUP BY 1 HAVING count(*) >= 4;

-- Open review tasks with their SLA.
CREATE VIEW ops.review_queue AS
SELECT id AS task, kind, created_at, due_at, due_at < now() AS overdue,
       greatest(interval '0', due_at - now()) AS time_left
FROM identity.review_tasks WHERE state = 'open';

-- Devices locked for deregistration.
CREATE VIEW ops.locked_devices AS
SELECT id AS device, locked_at FROM deregistration.device_prints WHERE locked_at IS NOT NULL;

-- Deregistrations in their cool-down, with the days left.
CREATE VIEW ops.deregistrations_in_cooldown AS
SELECT account_id, requested_at, cooldown_ends_at,
       round(extract(epoch FROM cooldown_ends_at - now()) / 86400.0, 1) AS days_left
FROM deregistration.requests WHERE state = 'cooling';

-- Finalized accounts still waiting for purge confirmations.
CREATE VIEW ops.purges_pending AS
SELECT r.account_id, r.closed_at AS finalized_at,
       array(SELECT p.service || ':' || p.category FROM deregistration.purges p
             WHERE p.account_id = r.account_id ORDER BY 1) AS confirmed
FROM deregistration.requests r WHERE r.state = 'finalized' AND r.purged_at IS NULL;

-- Outbox backlog and age, per service and topic.
CREATE VIEW ops.outbox_backlog AS
SELECT service, topic, count(*) FILTER (WHERE sent_at IS NULL) AS unsent,
       max(now() - created_at) FILTER (WHERE sent_at IS NULL) AS oldest_unsent,
       count(*) AS total
FROM (
    SELECT 'identity' AS service, topic, created_at, sent_at FROM identity.outbox
    UNION ALL SELECT 'permissions', topic, created_at, sent_at FROM permissions.outbox
    UNION ALL SELECT 'binding', topic, created_at, sent_at FROM binding.outbox
    UNION ALL SELECT 'deregistration', topic, created_at, sent_at FROM deregistration.outbox
) o
GROUP BY 1, 2;

-- Processed messages per service and topic.
CREATE VIEW ops.inbox_counts AS
SELECT service, topic, count(*) AS processed, max(received_at) AS last_received
FROM (
    SELECT 'identity' AS service, topic, received_at FROM identity.inbox
    UNION ALL SELECT 'permissions', topic, received_at FROM permissions.inbox
    UNION ALL SELECT 'binding', topic, received_at FROM binding.inbox
    UNION ALL SELECT 'deregistration', topic, received_at FROM deregistration.inbox
) i
GROUP BY 1, 2;

-- Dead letters per service, topic and reason.
CREATE VIEW ops.dead_letters AS
SELECT service, topic, reason, count(*) AS letters, max(received_at) AS last_seen
FROM (
    SELECT 'identity' AS service, topic, reason, received_at FROM identity.dead_letters
    UNION ALL SELECT 'permissions', topic, reason, received_at FROM permissions.dead_letters
    UNION ALL SELECT 'binding', topic, reason, received_at FROM binding.dead_letters
    UNION ALL SELECT 'deregistration', topic, reason, received_at FROM deregistration.dead_letters
) d
GROUP BY 1, 2, 3;
