-- The catalog of database backups (pg_dump archives on disk, optionally pushed to a git remote).
-- This table is left out of the archives themselves, so restoring a backup never forgets the
-- backups taken after it.

CREATE TABLE backups (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_name       text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('manual', 'scheduled')),
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    -- The local calendar day a scheduled backup is for: one scheduled backup per day, whatever
    -- the number of server instances.
    scheduled_for   date,
    size_bytes      bigint CHECK (size_bytes >= 0),
    sha256          text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    error           text,
    push_status     text NOT NULL DEFAULT 'not_configured'
                    CHECK (push_status IN ('not_configured', 'pending', 'pushed', 'failed')),
    push_attempts   integer NOT NULL DEFAULT 0,
    pushed_at       timestamptz,
    push_commit     text,
    push_error      text,
    -- When the local copy was pruned by the retention setting.
    pruned_at       timestamptz,
    CONSTRAINT backups_file_name_key UNIQUE (file_name),
    CONSTRAINT backups_scheduled_for_key UNIQUE (scheduled_for),
    CONSTRAINT backups_scheduled_has_day CHECK ((kind = 'scheduled') = (scheduled_for IS NOT NULL)),
    CONSTRAINT backups_completed_has_checksum
        CHECK (status <> 'completed' OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL AND completed_at IS NOT NULL))
);
CREATE INDEX backups_created_at_idx ON backups (created_at DESC);
