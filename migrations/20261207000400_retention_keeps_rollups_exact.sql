-- The heartbeat retention as the compaction redefined it (20261207000200: raw partitions daily
-- or monthly, and the long-term form's months), with what the rollups added to it
-- (20261207000100) kept: the two migrations were written side by side, and the later one's
-- definition had dropped the rollup's part. Heartbeats the retention deletes leave the hourly
-- rollup in the same transaction, so its answers stay those of the stored heartbeats:
-- every hour before the month of `cutoff` (all of it lies in dropped partitions), and, hour by
-- hour, the rows it deletes from either default partition (raw rows one by one, compacted
-- device-days by their hour counts).
CREATE OR REPLACE FUNCTION drop_heartbeat_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    old_partition record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
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
        RETURNING day, hour_counts)
    INSERT INTO heartbeat_hour_deltas (hour, n)
    SELECT gone.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => c.position::integer - 1), -sum(c.n)
    FROM gone CROSS JOIN LATERAL unnest(gone.hour_counts) WITH ORDINALITY AS c(n, position)
    WHERE c.n <> 0
    GROUP BY 1;
    PERFORM forget_heartbeat_hours_before(date_trunc('month', cutoff, 'UTC'));
    RETURN;
END
$$;

-- A live session's start (or license) that an UPDATE changes is counted again rather than
-- refused (20261207000100 refused it): the session leaves the day it was counted on and arrives
-- on its new one. Row-level and only for UPDATEs that set those columns, so a heartbeat (which
-- sets `last_heartbeat_at` only) never fires it.
CREATE OR REPLACE FUNCTION count_session_start_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.started_at IS DISTINCT FROM OLD.started_at OR NEW.license_id IS DISTINCT FROM OLD.license_id THEN
        INSERT INTO session_day_deltas (license_id, day, kind, n)
        VALUES (OLD.license_id, (OLD.started_at AT TIME ZONE 'UTC')::date, 'started', -1),
               (NEW.license_id, (NEW.started_at AT TIME ZONE 'UTC')::date, 'started', 1);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS license_sessions_start_fixed ON license_sessions;
DROP FUNCTION IF EXISTS refuse_session_start_change();
DROP TRIGGER IF EXISTS license_sessions_start_moved ON license_sessions;
CREATE TRIGGER license_sessions_start_moved AFTER UPDATE OF started_at, license_id ON license_sessions
    FOR EACH ROW EXECUTE FUNCTION count_session_start_change();
