-- A realistic data set for the analyst benchmark, generated in SQL. Sizes come from settings the
-- caller sets first (`SELECT set_config('bench.licenses', '5000', false)` …):
--   bench.customers, bench.licenses, bench.sessions_per_device, bench.heartbeats
-- Every license carries five devices (500 customers × 4 licenses × 5 devices by default, the data
-- set of the nested-read comparison); heartbeats spread over the last 90 days, so they fill four
-- monthly partitions.

SELECT ensure_heartbeat_partitions(((now() - interval '100 days') AT TIME ZONE 'UTC')::date, 8);

INSERT INTO customers (name, email, is_test, created_at)
SELECT format('%s %s', (ARRAY['Klinikum', 'Stadtwerke', 'Universität', 'Praxis', 'Kanzlei'])[1 + i % 5], i),
       format('it-%s@customer%s.example', i, i), i % 50 = 0, now() - (i % 700) * interval '1 day'
FROM generate_series(1, current_setting('bench.customers')::int) i;

WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total FROM customers)
INSERT INTO licenses (license_key, customer_id, license_type, valid_from, valid_until, is_active,
                      device_limit, concurrent_sessions_limit, created_at)
SELECT format('BENCH-%s', lpad(i::text, 9, '0')), c.id,
       (ARRAY['trial', 'subscription', 'subscription', 'perpetual'])[1 + i % 4],
       now() - (i % 400) * interval '1 day',
       CASE WHEN i % 4 = 3 THEN NULL ELSE now() - (i % 400) * interval '1 day' + (30 + i % 700) * interval '1 day' END,
       i % 17 <> 0, 5 + i % 6, 1 + i % (5 + i % 6), now() - (i % 400) * interval '1 day'
FROM generate_series(1, current_setting('bench.licenses')::int) i
JOIN numbered c ON c.n = i % c.total;

INSERT INTO device_registrations (license_id, hardware_fingerprint, device_name, device_type, first_activated_at, last_seen_at)
SELECT l.id, format('fp-%s-%s', l.license_key, d), format('Device %s', d),
       (ARRAY['windows', 'macos', 'linux'])[1 + d % 3], l.valid_from, now()
FROM licenses l, generate_series(1, 5) d;

-- Ended sessions every ~11 days per device, 30 minutes to 4.5 hours long.
INSERT INTO session_history (id, session_token, license_id, device_id, started_at, last_heartbeat_at, ended_at, end_reason)
SELECT gen_random_uuid(), gen_random_uuid(), d.license_id, d.id, s.started_at, s.ended_at - interval '20 seconds', s.ended_at,
       (ARRAY['client_ended', 'client_ended', 'timeout', 'admin_terminated', 'device_deactivated'])[1 + (k + abs(hashtext(d.id::text))) % 5]
FROM device_registrations d
CROSS JOIN generate_series(1, current_setting('bench.sessions_per_device')::int) k
CROSS JOIN LATERAL (
    SELECT now() - interval '90 days' + (k - 1) * interval '11 days' + (abs(hashtext(d.id::text || k)) % 1000) * interval '10 minutes' AS started_at
) st
CROSS JOIN LATERAL (
    SELECT st.started_at, st.started_at + interval '30 minutes' + (abs(hashtext(d.hardware_fingerprint)) % 240) * interval '1 minute' AS ended_at
) s
WHERE s.ended_at < now();

-- The first device of each active license is online now.
INSERT INTO license_sessions (session_token, license_id, device_id, started_at, last_heartbeat_at)
SELECT gen_random_uuid(), d.license_id, d.id, now() - interval '2 hours', now() - interval '5 seconds'
FROM device_registrations d JOIN licenses l ON l.id = d.license_id
WHERE l.is_active AND d.hardware_fingerprint LIKE '%-1';

-- Heartbeats spread evenly over the last 90 days, round-robin over the devices.
WITH numbered AS (
    SELECT id, license_id, row_number() OVER (ORDER BY id) - 1 AS n FROM device_registrations
), total AS (SELECT count(*) AS devices FROM device_registrations)
INSERT INTO license_heartbeats (session_id, license_id, device_id, received_at)
SELECT d.id, d.license_id, d.id,
       now() - interval '90 days' + (i::float8 / current_setting('bench.heartbeats')::float8) * interval '90 days'
FROM generate_series(1, current_setting('bench.heartbeats')::bigint) i
CROSS JOIN total
JOIN numbered d ON d.n = i % total.devices
-- In time order, as the server writes them (the BRIN index on received_at relies on it).
ORDER BY i;

-- Pools: addresses and domains, a third of them allocated.
INSERT INTO resource_pools (resource_type, value)
SELECT 'ipv4', format('10.%s.%s.%s', (i >> 16) & 255, (i >> 8) & 255, i & 255) FROM generate_series(1, 10000) i
UNION ALL
SELECT 'domain', format('host%s.bench.example', i) FROM generate_series(1, 5000) i;
WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM licenses),
     picked AS (SELECT id, row_number() OVER (ORDER BY value) AS n FROM resource_pools WHERE resource_type = 'ipv4' LIMIT 3000)
UPDATE resource_pools r SET state = 'allocated', license_id = l.id
FROM picked p JOIN numbered l ON l.n = 1 + p.n % (SELECT count(*) FROM licenses)
WHERE r.id = p.id;

ANALYZE;
