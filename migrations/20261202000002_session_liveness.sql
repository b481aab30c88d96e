-- The one definition of a live session, used by every statement that asks: its last heartbeat is
-- younger than the session timeout (given in seconds, a setting of the server). Admission, the
-- heartbeat write, the cleanup, the live lists, analytics and metrics all call it, so changing the
-- rule means changing this function. Plain SQL and STABLE, so the planner inlines it: no function
-- call per row, and conditions on last_heartbeat_at stay visible to the planner.
CREATE FUNCTION session_is_live(last_heartbeat_at timestamptz, timeout_secs double precision)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT last_heartbeat_at > now() - make_interval(secs => timeout_secs) $$;

-- When a session with this last heartbeat stops being live.
CREATE FUNCTION session_deadline(last_heartbeat_at timestamptz, timeout_secs double precision)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT last_heartbeat_at + make_interval(secs => timeout_secs) $$;
