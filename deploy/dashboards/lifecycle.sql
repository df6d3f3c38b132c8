-- Devices, reviews and deregistrations.  psql "$REGISTRAR_DATABASE_URL" -f deploy/dashboards/lifecycle.sql
\pset border 2
\echo '== Devices near their account limit =='
SELECT * FROM ops.devices_near_limits ORDER BY live_accounts DESC LIMIT 20;
\echo '== Accounts near their device limit =='
SELECT * FROM ops.accounts_near_device_limit ORDER BY bound_devices DESC LIMIT 20;
\echo '== Review queue (overdue first) =='
SELECT * FROM ops.review_queue ORDER BY overdue DESC, due_at LIMIT 30;
\echo '== Deregistrations in cool-down =='
SELECT * FROM ops.deregistrations_in_cooldown ORDER BY cooldown_ends_at LIMIT 30;
\echo '== Purges pending =='
SELECT * FROM ops.purges_pending ORDER BY finalized_at LIMIT 30;
\echo '== Locked devices =='
SELECT * FROM ops.locked_devices ORDER BY locked_at DESC LIMIT 30;
