-- Session tokens are bearer secrets of the one client holding them, yet earlier versions wrote
-- them into the audit log: `new_values.sessionToken` of every `session.started` and
-- `session.ended` row (the entity id names the session). They are removed here.
--
-- The audit log is append-only by trigger. This migration lifts the row trigger for its own
-- UPDATE only: it is disabled and enabled again inside this migration's transaction (ALTER TABLE
-- holds a lock that keeps every other writer out meanwhile), so no other transaction ever sees
-- the table unguarded. The rewrite is itself recorded as one more audit row.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete;

WITH scrubbed AS (
    UPDATE audit_log
    SET old_values = CASE WHEN old_values ? 'sessionToken' THEN old_values - 'sessionToken' ELSE old_values END,
        new_values = CASE WHEN new_values ? 'sessionToken' THEN new_values - 'sessionToken' ELSE new_values END
    WHERE old_values ? 'sessionToken' OR new_values ? 'sessionToken'
    RETURNING id)
INSERT INTO audit_log (actor_type, actor_name, action, entity_type, new_values)
SELECT 'system', 'system', 'audit.session_tokens_removed', 'audit_log',
       jsonb_build_object('rows', count(*), 'firstId', min(id), 'lastId', max(id),
                          'migration', '20261203000001_session_tokens_out_of_audit_log')
FROM scrubbed
HAVING count(*) > 0;

ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete;
