-- The session history across licenses (the dashboard's /history) pages newest-ended first and
-- filters by when sessions ended: without this index every page sorts the whole history.
CREATE INDEX session_history_ended_at_idx ON session_history (ended_at DESC, id);
