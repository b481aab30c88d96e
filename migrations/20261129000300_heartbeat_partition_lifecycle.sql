-- Heartbeat partition lifecycle: rows that landed in the default partition move into their
-- monthly partition when it is created, and partitions older than the retention are dropped.

-- Replaces the first version: creating a month whose rows already sit in the default partition
-- used to fail ("updated partition constraint for default partition would be violated"). Now the
-- partition is built beside the table, the month's rows move into it, and it is attached.
-- Serialised by the same advisory lock as before; idempotent.
CREATE OR REPLACE FUNCTION ensure_heartbeat_partitions(first_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', first_month)::date;
    lower_bound text;
    upper_bound text;
    partition_name text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR i IN 0 .. months - 1 LOOP
        partition_name := format('license_heartbeats_%s', to_char(month_start, 'YYYYMM'));
        lower_bound := to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_bound := to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';
        IF to_regclass(partition_name) IS NULL THEN
            -- No heartbeat may land in the default partition between the move and the attach
            -- (attaching checks that the default holds no row of the new month). Attaching
            -- needs a stronger lock on the default partition anyway.
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
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;

-- Detaches and drops every monthly partition that ends at or before `cutoff`, and deletes rows
-- older than `cutoff` from the default partition; returns the names of the dropped partitions.
-- Same advisory lock as creation, so two instances never race on the same partition.
CREATE FUNCTION drop_heartbeat_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    old_partition text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR old_partition IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'license_heartbeats'::regclass
          AND c.relname ~ '^license_heartbeats_[0-9]{6}$'
          AND (to_date(substr(c.relname, 20), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' <= cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE license_heartbeats DETACH PARTITION %I', old_partition);
        EXECUTE format('DROP TABLE %I', old_partition);
        RETURN NEXT old_partition;
    END LOOP;
    DELETE FROM license_heartbeats_default WHERE received_at < cutoff;
    RETURN;
END
$$;
