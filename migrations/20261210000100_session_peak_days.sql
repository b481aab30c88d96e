-- A rollup for `peakConcurrentSessions` (issue 16), which read every session interval of its range
-- (about 100 ms for 30 days of the analytics benchmark's history).
--
-- The level of a license at a moment t is how many of its sessions are live then: those with
-- started_at <= t < ended_at. Within a UTC day [ds, de) of a license's filed sessions it is
--     carry + (starts in [ds, t]) - (ends in (ds, t]),
-- `carry` being the sessions live across the day's start (started before ds, ending after it).
-- The level only goes up at a start, so its highest value within the day is reached at ds or at a
-- start: the rollup keeps, per license and day, `carry` and how far the level rises above it at
-- most (`rise`, at least 0, ds counting as a point), with the first moment it gets there. A peak
-- over whole days is then the highest `carry + rise` of its days, first reached at its `rise_at`.
-- Live sessions are not in the rollup (their end moves with time): the reader
-- (`analytics::rollups::peak_levels`) counts from raw rows the days a live session is in, the
-- days cut by the range's edges and the days whose rollup is not up to date.
--
-- Kept as the other rollups are (20261207000100): a statement-level trigger on `session_history`
-- appends one delta per license and day a statement touched, with the change of the day's carry,
-- to an insert-only table. The mover (`analytics::rollups::move_deltas`) deletes a batch of deltas,
-- adds their carry and recomputes the rise of their days from the history, in one statement:
-- the recomputation sees the history of that statement's snapshot, and a row committed after it
-- has left a delta the statement did not see, so its day is recomputed again by the next move. A
-- reader treats a day with deltas not yet moved as raw. So an answer is exact at any moment.
--
-- A restore of a backup older than this migration brings back `_sqlx_migrations` without it,
-- which then runs again: the rollup is built afresh from the history restored.
DROP TABLE IF EXISTS session_peak_days, session_peak_deltas;

CREATE TABLE session_peak_days (
    license_id  uuid NOT NULL,
    day         date NOT NULL,
    -- Filed sessions live across the day's start.
    carry       integer NOT NULL,
    -- The most the level rises above `carry` within the day, and the first moment it does.
    rise        integer NOT NULL,
    rise_at     timestamptz NOT NULL,
    PRIMARY KEY (license_id, day)
);
-- All licenses over a range of days, read from the index alone.
CREATE INDEX session_peak_days_by_day ON session_peak_days (day) INCLUDE (license_id, carry, rise, rise_at);

CREATE TABLE session_peak_deltas (
    license_id  uuid NOT NULL,
    day         date NOT NULL,
    carry       integer NOT NULL
);

-- The rise of a day is recomputed from the starts and ends of its license's sessions in that day.
CREATE INDEX IF NOT EXISTS session_history_license_started_idx ON session_history (license_id, started_at);

-- The UTC days a filed session [s, e) touches, with 1 as `carry` where it is live across the day's
-- start. A session that ends at the instant a day starts does not touch that day; one that does
-- not last (e <= s) touches none, as it is never live.
CREATE OR REPLACE FUNCTION session_peak_spans(s timestamptz, e timestamptz)
RETURNS TABLE (day date, carry integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT first_day + i, ((first_day + i)::timestamp AT TIME ZONE 'UTC' > s)::integer
    FROM (SELECT (s AT TIME ZONE 'UTC')::date AS first_day,
                 ((e - interval '1 microsecond') AT TIME ZONE 'UTC')::date AS last_day) b
    CROSS JOIN LATERAL generate_series(0, last_day - first_day) AS i
    WHERE e > s
$$;

-- The starts (+1) in [ds, until) and the ends (-1) in (ds, until) of the filed sessions that last,
-- by license: the events that move a license's level after the instant ds. The rollup's rise and
-- the reader's days counted from their events both read them, for one license (a condition on
-- `license_id` reaches the index on (license_id, started_at) or (license_id, ended_at) once the
-- function is inlined) or for all.
CREATE OR REPLACE FUNCTION filed_session_events(ds timestamptz, until timestamptz)
RETURNS TABLE (license_id uuid, t timestamptz, delta integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT license_id, started_at, 1 FROM session_history
    WHERE started_at >= ds AND started_at < until AND ended_at > started_at
    UNION ALL
    SELECT license_id, ended_at, -1 FROM session_history
    WHERE ended_at > ds AND ended_at < until AND ended_at > started_at
$$;

-- How far a license's level of filed sessions rises within a UTC day above where it starts, and
-- the first moment it gets there (the day's start when it never rises). Events at one instant
-- count ends first: a session ending as another starts does not overlap it. The day's start is a
-- point of its own (delta 0), after the ends at it (there are none: ends count after ds) and
-- before the starts.
CREATE OR REPLACE FUNCTION session_peak_rise(for_license uuid, on_day date)
RETURNS TABLE (rise integer, rise_at timestamptz) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH bounds AS (
        SELECT on_day::timestamp AT TIME ZONE 'UTC' AS ds, (on_day + 1)::timestamp AT TIME ZONE 'UTC' AS de),
    events AS (
        SELECT ds AS t, 0 AS delta FROM bounds
        UNION ALL
        SELECT e.t, e.delta FROM bounds CROSS JOIN LATERAL filed_session_events(ds, de) e
        WHERE e.license_id = for_license),
    running AS (
        SELECT t, delta, sum(delta) OVER (ORDER BY t, delta ROWS UNBOUNDED PRECEDING)::integer AS level FROM events)
    SELECT level, t FROM running WHERE delta >= 0 ORDER BY level DESC, t LIMIT 1
$$;

CREATE OR REPLACE FUNCTION mark_session_peak_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO session_peak_deltas (license_id, day, carry)
        SELECT a.license_id, s.day, sum(s.carry)
        FROM arrived_history a CROSS JOIN LATERAL session_peak_spans(a.started_at, a.ended_at) s
        GROUP BY 1, 2;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO session_peak_deltas (license_id, day, carry)
        SELECT l.license_id, s.day, -sum(s.carry)
        FROM left_history l CROSS JOIN LATERAL session_peak_spans(l.started_at, l.ended_at) s
        GROUP BY 1, 2;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS session_history_peak_insert ON session_history;
CREATE TRIGGER session_history_peak_insert AFTER INSERT ON session_history
    REFERENCING NEW TABLE AS arrived_history FOR EACH STATEMENT EXECUTE FUNCTION mark_session_peak_days();
DROP TRIGGER IF EXISTS session_history_peak_delete ON session_history;
CREATE TRIGGER session_history_peak_delete AFTER DELETE ON session_history
    REFERENCING OLD TABLE AS left_history FOR EACH STATEMENT EXECUTE FUNCTION mark_session_peak_days();
DROP TRIGGER IF EXISTS session_history_peak_update ON session_history;
CREATE TRIGGER session_history_peak_update AFTER UPDATE ON session_history
    REFERENCING OLD TABLE AS left_history NEW TABLE AS arrived_history
    FOR EACH STATEMENT EXECUTE FUNCTION mark_session_peak_days();

-- The history filed before, built after the triggers exist: creating them locked out writers
-- until this migration commits, so every session is either counted here or by a trigger.
INSERT INTO session_peak_days (license_id, day, carry, rise, rise_at)
SELECT d.license_id, d.day, d.carry, r.rise, r.rise_at
FROM (SELECT h.license_id, s.day, sum(s.carry)::integer AS carry
      FROM session_history h CROSS JOIN LATERAL session_peak_spans(h.started_at, h.ended_at) s
      GROUP BY 1, 2) d
CROSS JOIN LATERAL session_peak_rise(d.license_id, d.day) r;
