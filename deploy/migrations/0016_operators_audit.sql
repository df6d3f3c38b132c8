-- Support and audit (issue 17): operator roles, every service's operator directory, and an
-- append-only audit trail in each service's schema.

-- Operators get a role. Operators created before roles could decide reviews and create
-- enterprises: they become admins (an admin narrows them with operator.disable + operator.add).
ALTER TABLE identity.operators ADD COLUMN role text;
UPDATE identity.operators SET role = 'admin';
ALTER TABLE identity.operators ALTER COLUMN role SET NOT NULL,
    ADD CONSTRAINT operators_role CHECK (role IN ('support', 'reviewer', 'admin'));
-- Why an operator was disabled (the operator's note).
ALTER TABLE identity.operators ADD COLUMN disabled_reason text;

-- Identity authenticates operators from its own table; the view gives it the same shape as the
-- other services' directories, so one piece of code (OperatorDirectory) reads all four.
CREATE VIEW identity.operator_directory AS
SELECT token_hash, id::text AS operator_id, role FROM identity.operators WHERE disabled_at IS NULL;

-- The other services' directories, fed by identity's operator events (token hashes only).
ALTER TABLE permissions.operators RENAME TO operator_directory;
ALTER TABLE permissions.operator_directory ADD COLUMN role text NOT NULL DEFAULT 'admin';
ALTER TABLE permissions.operator_directory ALTER COLUMN role DROP DEFAULT;
CREATE INDEX operator_directory_operator ON permissions.operator_directory (operator_id);
CREATE TABLE binding.operator_directory (LIKE permissions.operator_directory INCLUDING ALL);
CREATE TABLE deregistration.operator_directory (LIKE permissions.operator_directory INCLUDING ALL);

-- Deregistration's device lock can be lifted by support: requests before the lift no longer count
-- towards the next lock.
ALTER TABLE deregistration.device_prints ADD COLUMN unlocked_at timestamptz;

-- Append-only rows: no role (the services' own included) may change or remove them. The services
-- connect as the database owner, so privileges alone would not hold; the triggers do, for every
-- role that does not drop them (a schema change, done by migrations only).
CREATE FUNCTION public.registrar_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit rows are append-only (% on %.%)', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The audit trail: one row per operator action and security event, written in the transaction of
-- its effect. actor_kind: account (a session's own account), operator, client (an unauthenticated
-- caller: a login attempt), system (events and periodic work). No raw PII: ids, action names,
-- reasons.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['identity', 'permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      CREATE TABLE %1$I.audit_trail (
        id             bigserial   PRIMARY KEY,
        at             timestamptz NOT NULL,
        actor_kind     text        NOT NULL CHECK (actor_kind IN ('account', 'operator', 'client', 'system')),
        actor_id       text,
        action         text        NOT NULL,
        subject        text        NOT NULL,
        correlation_id text,
        message_id     text,
        reason         text
      );
      CREATE INDEX audit_trail_subject ON %1$I.audit_trail (subject, at);
      CREATE INDEX audit_trail_operator ON %1$I.audit_trail (actor_id, at) WHERE actor_kind = 'operator';
      CREATE INDEX audit_trail_at ON %1$I.audit_trail (at);
      REVOKE UPDATE, DELETE, TRUNCATE ON %1$I.audit_trail FROM PUBLIC;
      CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON %1$I.audit_trail
        FOR EACH ROW EXECUTE FUNCTION public.registrar_append_only();
      CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON %1$I.audit_trail
        FOR EACH STATEMENT EXECUTE FUNCTION public.registrar_append_only();
    $f$, s);
  END LOOP;
END
$$;

-- Deregistration's step log outlives every purge as well: append-only too.
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON deregistration.audit
    FOR EACH ROW EXECUTE FUNCTION public.registrar_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON deregistration.audit
    FOR EACH STATEMENT EXECUTE FUNCTION public.registrar_append_only();

-- Every service's trail, for `registrar audit` and the operators dashboard.
CREATE VIEW ops.audit AS
SELECT 'identity' AS service, * FROM identity.audit_trail
UNION ALL SELECT 'permissions', * FROM permissions.audit_trail
UNION ALL SELECT 'binding', * FROM binding.audit_trail
UNION ALL SELECT 'deregistration', * FROM deregistration.audit_trail;

-- What operators did in the last day, newest first.
CREATE VIEW ops.operator_actions_last_day AS
SELECT a.at, a.service, a.actor_id AS operator_id, o.name AS operator, o.role, a.action, a.subject, a.reason,
       a.correlation_id
FROM ops.audit a LEFT JOIN identity.operators o ON o.id::text = a.actor_id
WHERE a.actor_kind = 'operator' AND a.at > now() - interval '1 day'
ORDER BY a.at DESC;
