-- The compacted history read by day across all licenses (`heartbeatCounts` for every license,
-- whose partial hours at the edges of a range are counted from the stored rows): without an
-- index leading with `day`, a day's rows were found by reading the whole month's partition. The
-- compaction appends a day's rows together, oldest day first, so a BRIN index finds them at a
-- few kilobytes' cost; partitions attached later get it too.
CREATE INDEX IF NOT EXISTS heartbeat_device_days_day ON heartbeat_device_days USING brin (day);
