-- The message runtime.  psql "$REGISTRAR_DATABASE_URL" -f deploy/dashboards/runtime.sql
\pset border 2
\echo '== Outbox backlog =='
SELECT * FROM ops.outbox_backlog ORDER BY unsent DESC, service, topic;
\echo '== Inbox: processed messages =='
SELECT * FROM ops.inbox_counts ORDER BY service, topic;
\echo '== Dead letters =='
SELECT * FROM ops.dead_letters ORDER BY letters DESC;
