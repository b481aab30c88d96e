-- Heartbeat history at a few bytes per heartbeat (issue 17).
--
-- Raw heartbeats (one row each) are kept only for a short raw window, in daily partitions of
-- `license_heartbeats`. Older days are compacted into `heartbeat_device_days`: one row per
-- device per UTC day with the exact heartbeat count of each hour and the day's 30-second-slot
-- timeline as a bit string, partitioned by month and kept for the heartbeat retention.
-- The compaction moves rows (DELETE … RETURNING, aggregate, upsert in one statement), so raw
-- rows plus compacted rows always add up to every heartbeat ever recorded.

-- 1. The long-term form. One index only, unique on (license, day, device): it serves the
-- per-license reads (license, day range), the per-device timeline and the compaction's upsert.
-- A unique index rather than a primary key: `pg_restore --clean` (restoring a backup) cannot
-- drop a partition's inherited key constraint, while partitioned indexes restore like
-- `license_heartbeats_license_idx` always has.
-- A restore of a backup older than this migration brings back every raw heartbeat of its time and
-- `_sqlx_migrations` without this migration, but leaves this table (not in its archive) as it
-- was, holding heartbeats compacted later from those same raw rows: this migration then runs
-- again and starts the long-term form afresh, so no heartbeat is counted twice.
DROP TABLE IF EXISTS heartbeat_device_days;
CREATE TABLE heartbeat_device_days (
    license_id   uuid NOT NULL,
    day          date NOT NULL,
    device_id    uuid NOT NULL,
    -- Heartbeats received in each UTC hour of the day, hours 0 to 23.
    hour_counts  integer[] NOT NULL CHECK (cardinality(hour_counts) = 24),
    -- The day's 2,880 thirty-second slots, trimmed to the first..last slot holding a heartbeat:
    -- bit i is slot first_slot + i (slot n starts n × 30 s after midnight UTC).
    first_slot   smallint NOT NULL CHECK (first_slot BETWEEN 0 AND 2879),
    slots        bit varying(2880) NOT NULL CHECK (first_slot + length(slots) <= 2880)
) PARTITION BY RANGE (day);
CREATE UNIQUE INDEX heartbeat_device_days_key ON heartbeat_device_days (license_id, day, device_id);
CREATE TABLE heartbeat_device_days_default PARTITION OF heartbeat_device_days DEFAULT;

-- Adds two days' hour counts.
CREATE OR REPLACE FUNCTION heartbeat_hour_counts_add(a integer[], b integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(x + y ORDER BY hour) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, hour)
$$;

-- The union of two trimmed slot timelines, trimmed again.
CREATE OR REPLACE FUNCTION heartbeat_slots_or(a_first integer, a bit varying, b_first integer, b bit varying)
RETURNS bit varying
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (repeat('0', a_first - lo) || a::text || repeat('0', hi - a_first - length(a)))::bit varying
         | (repeat('0', b_first - lo) || b::text || repeat('0', hi - b_first - length(b)))::bit varying
    FROM (SELECT least(a_first, b_first) AS lo,
                 greatest(a_first + length(a), b_first + length(b)) AS hi) bounds
$$;

-- How many of the slots [lo, hi) of a trimmed timeline hold a heartbeat.
CREATE OR REPLACE FUNCTION heartbeat_slots_count(first_slot integer, slots bit varying, lo integer, hi integer)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN e > s THEN bit_count(substring(slots FROM s + 1 FOR e - s))::integer ELSE 0 END
    FROM (SELECT greatest(lo - first_slot, 0) AS s, least(hi - first_slot, length(slots)) AS e) clipped
$$;

-- 2. Partition lifecycle. All partition changes of both tables take the same advisory lock as
-- before, so any number of instances may run them at once.

-- Daily raw partitions `license_heartbeats_YYYYMMDD` for `days` days from `first_day`;
-- returns how many were new. A day covered by a monthly partition (from before this
-- migration) stays in it while it holds rows; an empty monthly partition gives way to daily
-- ones. Rows of a new day that sit in the default partition move into it.
CREATE OR REPLACE FUNCTION ensure_heartbeat_day_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    partition_name text;
    month_partition text;
    lower_bound text;
    upper_bound text;
    has_rows boolean;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR i IN 0 .. days - 1 LOOP
        day := first_day + i;
        partition_name := format('license_heartbeats_%s', to_char(day, 'YYYYMMDD'));
        CONTINUE WHEN to_regclass(partition_name) IS NOT NULL;
        month_partition := format('license_heartbeats_%s', to_char(day, 'YYYYMM'));
        IF to_regclass(month_partition) IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', month_partition) INTO has_rows;
            CONTINUE WHEN has_rows;
            -- Checked again under the lock that keeps heartbeats out (the parent first, the
            -- order every insert takes), so no row can arrive between the check and the drop.
            LOCK TABLE license_heartbeats IN ACCESS EXCLUSIVE MODE;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', month_partition) INTO has_rows;
            CONTINUE WHEN has_rows;
            EXECUTE format('ALTER TABLE license_heartbeats DETACH PARTITION %I', month_partition);
            EXECUTE format('DROP TABLE %I', month_partition);
        END IF;
        lower_bound := to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_bound := to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
        -- As for the monthly partitions: built beside the table, the day's stray rows moved in,
        -- then attached, with no heartbeat landing in the default partition meanwhile.
        LOCK TABLE license_heartbeats_default IN EXCLUSIVE MODE;
        EXECUTE format('CREATE TABLE %I (LIKE license_heartbeats INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       partition_name);
        EXECUTE format(
            'WITH moved AS (DELETE FROM license_heartbeats_default
                            WHERE received_at >= %L AND received_at < %L RETURNING *)
             INSERT INTO %I SELECT * FROM moved',
            lower_bound, upper_bound, partition_name);
        EXECUTE format('ALTER TABLE license_heartbeats ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       partition_name, lower_bound, upper_bound);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;

-- Kept for what called it before (bulk loads of history such as tests/bench/seed.sql): the raw
-- partitions of `months` whole months from the month of `first_month`, now daily ones.
CREATE OR REPLACE FUNCTION ensure_heartbeat_partitions(first_month date, months integer) RETURNS integer
LANGUAGE sql AS $$
    SELECT ensure_heartbeat_day_partitions(
        date_trunc('month', first_month)::date,
        ((date_trunc('month', first_month) + make_interval(months => months))::date
            - date_trunc('month', first_month)::date))
$$;

-- Monthly partitions `heartbeat_device_days_YYYYMM` of the long-term form; returns how many
-- were new. Rows of a new month in its default partition move into it.
CREATE OR REPLACE FUNCTION ensure_heartbeat_history_partitions(first_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', first_month)::date;
    partition_name text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR i IN 0 .. months - 1 LOOP
        partition_name := format('heartbeat_device_days_%s', to_char(month_start, 'YYYYMM'));
        IF to_regclass(partition_name) IS NULL THEN
            LOCK TABLE heartbeat_device_days_default IN EXCLUSIVE MODE;
            EXECUTE format('CREATE TABLE %I (LIKE heartbeat_device_days INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           partition_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM heartbeat_device_days_default
                                WHERE day >= %L AND day < %L RETURNING *)
                 INSERT INTO %I SELECT * FROM moved',
                month_start, (month_start + interval '1 month')::date, partition_name);
            EXECUTE format('ALTER TABLE heartbeat_device_days ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           partition_name, month_start, (month_start + interval '1 month')::date);
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;

-- The raw partitions (daily, or monthly from before this migration) that end at or before
-- `cutoff` and hold no row, detached and dropped; returns their names. Called by the
-- compaction once it has moved their rows; rows arriving late keep a partition until the next
-- run moves them.
CREATE OR REPLACE FUNCTION drop_compacted_heartbeat_partitions(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    candidate text;
    has_rows boolean;
    locked boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR candidate IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'license_heartbeats'::regclass
          AND ((c.relname ~ '^license_heartbeats_[0-9]{8}$'
                AND (to_date(substr(c.relname, 20), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff)
            OR (c.relname ~ '^license_heartbeats_[0-9]{6}$'
                AND (to_date(substr(c.relname, 20), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff))
        ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', candidate) INTO has_rows;
        CONTINUE WHEN has_rows;
        IF NOT locked THEN
            -- Parent first, as every insert locks it; then the check again, under the lock.
            LOCK TABLE license_heartbeats IN ACCESS EXCLUSIVE MODE;
            locked := true;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', candidate) INTO has_rows;
            CONTINUE WHEN has_rows;
        END IF;
        EXECUTE format('ALTER TABLE license_heartbeats DETACH PARTITION %I', candidate);
        EXECUTE format('DROP TABLE %I', candidate);
        RETURN NEXT candidate;
    END LOOP;
    RETURN;
END
$$;

-- The retention: raw partitions (daily or monthly) and monthly partitions of the long-term form
-- that end at or before `cutoff`, detached and dropped with their rows, and both default
-- partitions' rows older than `cutoff` deleted; returns the dropped partitions' names. The
-- heartbeats it deletes leave the hourly rollup (20261207000100) in the same transaction, so its
-- answers stay those of the stored heartbeats: every hour before the month of `cutoff` (all of it
-- lies in dropped partitions), and, hour by hour, the rows it deletes from either default
-- partition (raw rows one by one, compacted device-days by their hour counts).
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

-- 3. From now on raw heartbeats go to daily partitions: future monthly partitions that are
-- still empty give way now (the current month's too, if empty); a monthly partition holding
-- rows stays until the compaction has moved them and drops it. The next days' partitions and
-- the long-term form's months are created here, the rest by the server's maintenance.
DO $$
DECLARE
    empty_month text;
    has_rows boolean;
BEGIN
    LOCK TABLE license_heartbeats IN ACCESS EXCLUSIVE MODE;
    FOR empty_month IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'license_heartbeats'::regclass
          AND c.relname ~ '^license_heartbeats_[0-9]{6}$'
          AND to_date(substr(c.relname, 20), 'YYYYMM') > (now() AT TIME ZONE 'UTC')::date
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', empty_month) INTO has_rows;
        IF NOT has_rows THEN
            EXECUTE format('ALTER TABLE license_heartbeats DETACH PARTITION %I', empty_month);
            EXECUTE format('DROP TABLE %I', empty_month);
        END IF;
    END LOOP;
END
$$;
SELECT ensure_heartbeat_day_partitions((now() AT TIME ZONE 'UTC')::date, 8);
SELECT ensure_heartbeat_history_partitions((now() AT TIME ZONE 'UTC')::date, 4);
