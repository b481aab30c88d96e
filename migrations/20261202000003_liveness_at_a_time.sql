-- The liveness rule at a given time. An admission waits for its license's lock, and the time its
-- transaction started (`now()`) can be older than a deadline that another admission, holding the
-- lock before it, already saw pass: deciding with that stale time could revive a session the
-- other one counted as dead. Admission therefore decides at the time read after it holds the lock
-- (`clock_timestamp()`); everything else asks at `now()`. One rule, two ways to call it.
CREATE FUNCTION session_is_live_at(last_heartbeat_at timestamptz, timeout_secs double precision, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT last_heartbeat_at > at - make_interval(secs => timeout_secs) $$;

CREATE OR REPLACE FUNCTION session_is_live(last_heartbeat_at timestamptz, timeout_secs double precision)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT session_is_live_at(last_heartbeat_at, timeout_secs, now()) $$;
