-- The compacted history read by day across all licenses (`heartbeatCounts` for every license,
-- whose partial hours at the edges of a range are counted from the stored rows): without an
-- index leading with `day`, a day's rows were found by reading the whole month's partition (or
-- the default partition, which holds whatever was compacted before its month had one). A BRIN
-- index would be smaller, but it only knows the ranges a vacuum has summarised and returns every
-- newer one, which is all of a freshly compacted history; a B-tree costs some 2 % of a row.
-- Partitions attached later get it too.
CREATE INDEX IF NOT EXISTS heartbeat_device_days_day ON heartbeat_device_days (day);
