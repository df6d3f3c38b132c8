-- Registrar at a glance. Open with:  psql "$REGISTRAR_DATABASE_URL" -f deploy/dashboards/overview.sql
-- Refresh every 5 s:                 psql "$REGISTRAR_DATABASE_URL" -c '\i deploy/dashboards/overview.sql' …
--                                    or inside psql: \i deploy/dashboards/overview.sql  then  \watch 5
\pset border 2
\pset null '·'
\echo '== Outbox backlog (unsent rows and their age) =='
SELECT service, topic, unsent, oldest_unsent, total FROM ops.outbox_backlog ORDER BY unsent DESC, service, topic;
\echo '== Dead letters =='
SELECT service, topic, reason, letters, last_seen FROM ops.dead_letters ORDER BY letters DESC LIMIT 10;
\echo '== Registration funnel, last 7 days =='
SELECT day, platform, started, sms_verified, password_set, profile_done, registered, registered_pct
FROM ops.registration_funnel WHERE day > current_date - 7 ORDER BY day DESC, platform;
\echo '== Review queue =='
SELECT kind, count(*) AS open, count(*) FILTER (WHERE overdue) AS overdue, min(due_at) AS next_due
FROM ops.review_queue GROUP BY kind ORDER BY kind;
\echo '== Deregistrations =='
SELECT (SELECT count(*) FROM ops.deregistrations_in_cooldown) AS in_cooldown,
       (SELECT count(*) FROM ops.purges_pending) AS purges_pending,
       (SELECT count(*) FROM ops.locked_devices) AS locked_devices;
