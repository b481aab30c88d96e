-- When each backup's last push to the git remote was attempted, successful or not, so the
-- dashboard can show the last push with its time, commit or error.

ALTER TABLE backups ADD COLUMN push_attempted_at timestamptz;
UPDATE backups SET push_attempted_at = pushed_at WHERE pushed_at IS NOT NULL;
