-- Registration funnel and step-up levels.  psql "$REGISTRAR_DATABASE_URL" -f deploy/dashboards/funnel.sql
\pset border 2
\echo '== Registration funnel by platform and day =='
SELECT * FROM ops.registration_funnel ORDER BY day DESC, platform LIMIT 40;
\echo '== Step-up by factor (policy: new_device 30/5, proxy_ip 75/25, late_night 50/15 % medium+/high) =='
SELECT * FROM ops.step_up_by_factor ORDER BY day DESC, factor LIMIT 30;
