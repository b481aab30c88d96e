-- Backups and restores run as background jobs, one at a time across all instances (the job
-- holds a session-level advisory lock for as long as it runs; a RUNNING row whose lock is free
-- belongs to a job that is gone and is marked failed).
--
-- The `backups` table is never in an archive, so a restore of an older backup brings back the
-- `_sqlx_migrations` of its time but leaves this table as it is; this migration then runs again
-- on the next start, and is written to find its own changes in place.

-- 1. A restore's progress lives on the restored backup's row, which the restore leaves alone.
ALTER TABLE backups
    ADD COLUMN IF NOT EXISTS restore_status       text CHECK (restore_status IN ('running', 'completed', 'failed')),
    ADD COLUMN IF NOT EXISTS restore_started_at   timestamptz,
    ADD COLUMN IF NOT EXISTS restore_finished_at  timestamptz,
    ADD COLUMN IF NOT EXISTS restore_requested_by text,
    ADD COLUMN IF NOT EXISTS restore_error        text;
ALTER TABLE backups DROP CONSTRAINT IF EXISTS backups_restore_started;
ALTER TABLE backups
    ADD CONSTRAINT backups_restore_started CHECK ((restore_status IS NULL) = (restore_started_at IS NULL));

-- 2. A failed scheduled backup is retried the same day: the day may hold any number of failed
--    attempts, but only one that is running or completed.
ALTER TABLE backups DROP CONSTRAINT IF EXISTS backups_scheduled_for_key;
DROP INDEX IF EXISTS backups_one_scheduled_per_day;
CREATE UNIQUE INDEX backups_one_scheduled_per_day ON backups (scheduled_for) WHERE status <> 'failed';

-- 3. The backup taken at start-up before pending migrations are applied.
ALTER TABLE backups DROP CONSTRAINT IF EXISTS backups_kind_check;
ALTER TABLE backups ADD CONSTRAINT backups_kind_check CHECK (kind IN ('manual', 'scheduled', 'pre_migration'));
