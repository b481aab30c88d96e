-- `heartbeatCounts` over all licenses, in the hours of the compacted history cut by an edge of the
-- range (issue 16): counted from every device's day of `heartbeat_device_days`, such an hour read
-- some ten thousand rows and their slot timelines (12 ms on the analytics benchmark's history).
-- This table keeps, per hour, what those rows add up to, so that the hour is one row.
--
-- Kept exact by the compaction's own statement (`crate::compaction`): the batch that writes
-- device-days adds, in the same statement, the heartbeats it moved to their hour's `n` and, for
-- each slot, the devices whose day did not hold that slot yet (the bits the batch sets) to
-- `slots`. So each hour row is always the sum of the device-days it stands for: its `n` is the sum
-- of their hour counts, its `slots` the number of their timelines holding each slot. The
-- retention drops the hours of the device-days it drops.
--
-- A restore of a backup older than this migration brings back `heartbeat_device_days` as it was
-- then and `_sqlx_migrations` without this migration, which then runs again: the table is built
-- afresh from the device-days restored.
DROP TABLE IF EXISTS heartbeat_compacted_hours;
CREATE TABLE heartbeat_compacted_hours (
    -- The start of a UTC hour.
    hour   timestamptz PRIMARY KEY,
    -- Heartbeats of all licenses received in this hour and compacted: the sum of the device-days'
    -- counts of this hour.
    n      bigint NOT NULL,
    -- For each of the hour's 120 thirty-second slots, how many device-days hold a heartbeat in it.
    slots  integer[] NOT NULL CHECK (cardinality(slots) = 120)
);

INSERT INTO heartbeat_compacted_hours (hour, n, slots)
WITH hours AS (
    SELECT d.day, h.hour::integer - 1 AS hour, sum(h.n) AS n
    FROM heartbeat_device_days d CROSS JOIN LATERAL unnest(d.hour_counts) WITH ORDINALITY AS h(n, hour)
    GROUP BY 1, 2
    HAVING sum(h.n) > 0),
held AS (
    SELECT d.day, d.first_slot + i AS slot, count(*)::integer AS devices
    FROM heartbeat_device_days d CROSS JOIN LATERAL generate_series(0, length(d.slots) - 1) AS i
    WHERE get_bit(d.slots, i) = 1
    GROUP BY 1, 2)
SELECT hours.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => hours.hour), hours.n,
       array_agg(coalesce(held.devices, 0) ORDER BY p.position)
FROM hours CROSS JOIN generate_series(0, 119) AS p(position)
LEFT JOIN held ON held.day = hours.day AND held.slot = hours.hour * 120 + p.position
GROUP BY hours.day, hours.hour, hours.n;

-- The compacted history was read by day across licenses only for those hours.
DROP INDEX IF EXISTS heartbeat_device_days_day;

-- The retention as before (20261207000200), and the hours of the device-days it drops: every
-- hour before the month of `cutoff` (all of it lies in dropped partitions or in default-partition
-- rows it deletes), and the hours of the days whose rows it deletes from the default partition,
-- as the hourly rollup loses them. It takes the compaction's lock first, so that no batch adds to
-- a day meanwhile.
CREATE OR REPLACE FUNCTION drop_heartbeat_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    old_partition record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats compaction'));
    FOR old_partition IN
        SELECT i.inhparent::regclass::text AS parent, c.relname AS name
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE (i.inhparent = 'license_heartbeats'::regclass
               AND ((c.relname ~ '^license_heartbeats_[0-9]{8}$'
                     AND (to_date(substr(c.relname, 20), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff)
                 OR (c.relname ~ '^license_heartbeats_[0-9]{6}$'
                     AND (to_date(substr(c.relname, 20), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff)))
           OR (i.inhparent = 'heartbeat_device_days'::regclass
               AND c.relname ~ '^heartbeat_device_days_[0-9]{6}$'
               AND (to_date(substr(c.relname, 23), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff)
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', old_partition.parent, old_partition.name);
        EXECUTE format('DROP TABLE %I', old_partition.name);
        RETURN NEXT old_partition.name;
    END LOOP;
    WITH gone AS (DELETE FROM license_heartbeats_default WHERE received_at < cutoff RETURNING received_at)
    INSERT INTO heartbeat_hour_deltas (hour, n)
    SELECT date_trunc('hour', received_at, 'UTC'), -count(*) FROM gone GROUP BY 1;
    WITH gone AS (
        DELETE FROM heartbeat_device_days_default WHERE (day + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
        RETURNING day, hour_counts),
    gone_hours AS (
        DELETE FROM heartbeat_compacted_hours h
        USING (SELECT DISTINCT day FROM gone) g
        WHERE h.hour >= g.day::timestamp AT TIME ZONE 'UTC' AND h.hour < (g.day + 1)::timestamp AT TIME ZONE 'UTC')
    INSERT INTO heartbeat_hour_deltas (hour, n)
    SELECT gone.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => c.position::integer - 1), -sum(c.n)
    FROM gone CROSS JOIN LATERAL unnest(gone.hour_counts) WITH ORDINALITY AS c(n, position)
    WHERE c.n <> 0
    GROUP BY 1;
    DELETE FROM heartbeat_compacted_hours WHERE hour < date_trunc('month', cutoff, 'UTC');
    PERFORM forget_heartbeat_hours_before(date_trunc('month', cutoff, 'UTC'));
    RETURN;
END
$$;
