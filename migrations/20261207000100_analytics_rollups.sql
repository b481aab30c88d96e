-- Rollups for the analysts' aggregates, so that `heartbeatCounts` (all licenses) and
-- `sessionsPerDay` read a few hundred rows instead of scanning raw history.
--
-- Exact by construction: statement-level AFTER triggers with transition tables append one delta
-- row per (hour) or (license, day, kind) for each writing statement, in the writer's own
-- transaction, to insert-only tables without indexes (the hot path never waits on them). The
-- mover (`analytics::rollups::move_deltas`) later deletes deltas and adds them to the rollups in
-- one statement, so a delta counts once, whichever instance moves it. Readers add the rollup and
-- the deltas not yet moved, in one statement (one snapshot), so an answer is exact at any moment.

-- A restore of a backup older than this migration leaves these tables (not in its archive) as
-- they were and brings back `_sqlx_migrations` without this migration, which then runs again:
-- it starts afresh, and counts the restored rows below.
DROP TABLE IF EXISTS heartbeat_hourly, heartbeat_hour_deltas, session_day_license, session_day_totals,
    session_day_deltas;

-- Heartbeats of all licenses per hour (UTC). No DELETE trigger on `license_heartbeats`: moving
-- raw rows into a compact form deletes them without changing how many heartbeats there were.
-- Only the retention (`drop_heartbeat_partitions_before`) takes heartbeats out of the rollup.
CREATE TABLE heartbeat_hourly (
    hour  timestamptz PRIMARY KEY,
    n     bigint NOT NULL
);

CREATE TABLE heartbeat_hour_deltas (
    hour  timestamptz NOT NULL,
    n     bigint NOT NULL
);

-- Sessions per UTC day and license: `kind` is 'started' (by `started_at`, counting both live and
-- filed sessions) or the end reason of sessions that ended that day (by `ended_at`).
CREATE TABLE session_day_license (
    license_id  uuid NOT NULL,
    day         date NOT NULL,
    kind        text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (license_id, day, kind)
);

-- The same summed over all licenses, so a year of all licenses is at most 366 × kinds rows.
CREATE TABLE session_day_totals (
    day   date NOT NULL,
    kind  text NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (day, kind)
);

CREATE TABLE session_day_deltas (
    license_id  uuid NOT NULL,
    day         date NOT NULL,
    kind        text NOT NULL,
    n           bigint NOT NULL
);

-- A statement-level trigger on the partitioned parent sees every row routed to any partition in
-- its transition table. Rows written straight into a partition do not fire it: only the partition
-- maintenance does that, when it moves rows that were counted already out of the default partition.
CREATE OR REPLACE FUNCTION count_inserted_heartbeats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO heartbeat_hour_deltas (hour, n)
    SELECT date_trunc('hour', received_at, 'UTC'), count(*) FROM inserted_heartbeats GROUP BY 1;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS license_heartbeats_rollup ON license_heartbeats;
CREATE TRIGGER license_heartbeats_rollup AFTER INSERT ON license_heartbeats
    REFERENCING NEW TABLE AS inserted_heartbeats FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_heartbeats();

-- Sessions count as started on the day of `started_at` while live and after being filed: a
-- session filed into the history leaves here (-1) and arrives there (+1) in the same statement.
CREATE OR REPLACE FUNCTION count_live_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_day_deltas (license_id, day, kind, n)
        SELECT license_id, (started_at AT TIME ZONE 'UTC')::date, 'started', count(*)
        FROM arrived_sessions GROUP BY 1, 2;
    ELSE
        INSERT INTO session_day_deltas (license_id, day, kind, n)
        SELECT license_id, (started_at AT TIME ZONE 'UTC')::date, 'started', -count(*)
        FROM left_sessions GROUP BY 1, 2;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS license_sessions_rollup_insert ON license_sessions;
CREATE TRIGGER license_sessions_rollup_insert AFTER INSERT ON license_sessions
    REFERENCING NEW TABLE AS arrived_sessions FOR EACH STATEMENT EXECUTE FUNCTION count_live_sessions();
DROP TRIGGER IF EXISTS license_sessions_rollup_delete ON license_sessions;
CREATE TRIGGER license_sessions_rollup_delete AFTER DELETE ON license_sessions
    REFERENCING OLD TABLE AS left_sessions FOR EACH STATEMENT EXECUTE FUNCTION count_live_sessions();

-- Every heartbeat updates `license_sessions`, so an UPDATE trigger with transition tables would
-- cost the hot path. An UPDATE that sets a live session's start or license (no code of the server
-- does) is counted by a row trigger instead, which fires only for UPDATEs naming those columns
-- (never a heartbeat's): the session leaves the day it was counted on and arrives on its new one.
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

DROP TRIGGER IF EXISTS license_sessions_start_moved ON license_sessions;
CREATE TRIGGER license_sessions_start_moved AFTER UPDATE OF started_at, license_id ON license_sessions
    FOR EACH ROW EXECUTE FUNCTION count_session_start_change();

-- History rows count as started (by `started_at`) and as ended with their reason (by `ended_at`).
-- Nothing updates them today; an update is counted as its old row leaving and its new arriving.
CREATE OR REPLACE FUNCTION count_filed_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO session_day_deltas (license_id, day, kind, n)
        SELECT license_id, day, kind, count(*) FROM (
            SELECT license_id, (started_at AT TIME ZONE 'UTC')::date AS day, 'started' AS kind FROM arrived_history
            UNION ALL
            SELECT license_id, (ended_at AT TIME ZONE 'UTC')::date, end_reason FROM arrived_history) d
        GROUP BY 1, 2, 3;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO session_day_deltas (license_id, day, kind, n)
        SELECT license_id, day, kind, -count(*) FROM (
            SELECT license_id, (started_at AT TIME ZONE 'UTC')::date AS day, 'started' AS kind FROM left_history
            UNION ALL
            SELECT license_id, (ended_at AT TIME ZONE 'UTC')::date, end_reason FROM left_history) d
        GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS session_history_rollup_insert ON session_history;
CREATE TRIGGER session_history_rollup_insert AFTER INSERT ON session_history
    REFERENCING NEW TABLE AS arrived_history FOR EACH STATEMENT EXECUTE FUNCTION count_filed_sessions();
DROP TRIGGER IF EXISTS session_history_rollup_delete ON session_history;
CREATE TRIGGER session_history_rollup_delete AFTER DELETE ON session_history
    REFERENCING OLD TABLE AS left_history FOR EACH STATEMENT EXECUTE FUNCTION count_filed_sessions();
DROP TRIGGER IF EXISTS session_history_rollup_update ON session_history;
CREATE TRIGGER session_history_rollup_update AFTER UPDATE ON session_history
    REFERENCING OLD TABLE AS left_history NEW TABLE AS arrived_history
    FOR EACH STATEMENT EXECUTE FUNCTION count_filed_sessions();

-- `sessionsPerDay` counts the partial days at a range's edges from the raw rows; this keeps that a
-- range read of the history. (`license_sessions` holds only sessions not yet filed, and every
-- index there costs the heartbeats' updates when they cannot be HOT, so it is read whole.)
CREATE INDEX IF NOT EXISTS session_history_started_at_idx ON session_history (started_at);

-- `heartbeatCounts` for all licenses counts the partial hours at a range's edges from the raw
-- rows. Heartbeats arrive in time order, so a BRIN index (a few bytes per 128 pages, next to
-- nothing per insert) narrows that to the blocks of those hours instead of the whole month. Block
-- ranges are summarized by (auto)vacuum, and with `autosummarize` as soon as inserts move past
-- them (never the range being filled, whose summary every insert would otherwise have to widen).
CREATE INDEX IF NOT EXISTS license_heartbeats_received_at_brin ON license_heartbeats USING brin (received_at)
    WITH (autosummarize = on);

-- Existing rows, counted after the triggers exist: creating them locked out writers until this
-- migration commits, so every row is either counted here or by a trigger, never both.
INSERT INTO heartbeat_hourly (hour, n)
SELECT date_trunc('hour', received_at, 'UTC'), count(*) FROM license_heartbeats GROUP BY 1;

INSERT INTO session_day_license (license_id, day, kind, n)
SELECT license_id, day, kind, count(*) FROM (
    SELECT license_id, (started_at AT TIME ZONE 'UTC')::date AS day, 'started' AS kind FROM license_sessions
    UNION ALL
    SELECT license_id, (started_at AT TIME ZONE 'UTC')::date, 'started' FROM session_history
    UNION ALL
    SELECT license_id, (ended_at AT TIME ZONE 'UTC')::date, end_reason FROM session_history) s
GROUP BY 1, 2, 3;

INSERT INTO session_day_totals (day, kind, n)
SELECT day, kind, sum(n) FROM session_day_license GROUP BY 1, 2;

-- Removes the hours before `boundary` from the rollup and from the deltas not yet moved; a
-- delta for such an hour that arrives later (a heartbeat written into the default partition for
-- a dropped month) is matched by the negative delta of the default partition's purge.
CREATE OR REPLACE FUNCTION forget_heartbeat_hours_before(boundary timestamptz) RETURNS void
LANGUAGE sql AS $$
    -- The mover's lock: no move of an older hour can commit behind these deletes.
    SELECT pg_advisory_xact_lock(hashtext('analytics rollups'));
    DELETE FROM heartbeat_hourly WHERE hour < boundary;
    DELETE FROM heartbeat_hour_deltas WHERE hour < boundary;
$$;

-- The retention takes heartbeats out of the hourly rollup as it drops them: every hour before the
-- month of `cutoff` (all of it lies in dropped partitions), and, hour by hour, the rows it deletes
-- from the default partition. Otherwise as before.
CREATE OR REPLACE FUNCTION drop_heartbeat_partitions_before(cutoff timestamptz) RETURNS SETOF text
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
    WITH gone AS (DELETE FROM license_heartbeats_default WHERE received_at < cutoff RETURNING received_at)
    INSERT INTO heartbeat_hour_deltas (hour, n)
    SELECT date_trunc('hour', received_at, 'UTC'), -count(*) FROM gone GROUP BY 1;
    PERFORM forget_heartbeat_hours_before(date_trunc('month', cutoff, 'UTC'));
    RETURN;
END
$$;
