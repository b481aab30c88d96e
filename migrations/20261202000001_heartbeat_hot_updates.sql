-- Heartbeats rewrite license_sessions.last_heartbeat_at many thousand times a second. While that
-- column was indexed no such update could be HOT (heap-only), so every heartbeat also wrote a new
-- entry into each of the table's five indexes: most of the database's work per heartbeat, and
-- bloat. Without the index, and with room left on each page for the new row version, a heartbeat
-- updates the row in place on its page and touches no index.
--
-- What used the index: the cleanup's search for sessions past the timeout, now a sequential scan
-- of this narrow table once per cleanup period (a few milliseconds per hundred thousand
-- sessions), and ordering live sessions by their last heartbeat, which sorts one license's or
-- one page's rows.
DROP INDEX license_sessions_last_heartbeat_idx;
ALTER TABLE license_sessions SET (fillfactor = 70);
