-- Operators and security events.  psql "$REGISTRAR_DATABASE_URL" -f deploy/dashboards/operators.sql
\pset border 2
\echo '== Operator actions, last 24 hours (newest first) =='
SELECT at, service, operator, role, action, subject, reason FROM ops.operator_actions_last_day LIMIT 200;
\echo '== Actions per operator, last 24 hours =='
SELECT operator, role, action, count(*) AS times
FROM ops.operator_actions_last_day GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC;
\echo '== Security events, last 24 hours =='
SELECT service, action, actor_kind, count(*) AS events
FROM ops.audit WHERE at > now() - interval '1 day' GROUP BY 1, 2, 3 ORDER BY 4 DESC;
