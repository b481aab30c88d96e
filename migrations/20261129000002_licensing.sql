-- Customers, licenses, devices and sessions: the licensing core.

CREATE TABLE customers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email       text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 254),
    is_test     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));
CREATE TRIGGER customers_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE licenses (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_key                text NOT NULL,
    customer_id                uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    license_type               text NOT NULL DEFAULT 'subscription'
                               CHECK (license_type IN ('trial', 'subscription', 'perpetual')),
    valid_from                 timestamptz NOT NULL DEFAULT now(),
    valid_until                timestamptz,
    is_active                  boolean NOT NULL DEFAULT true,
    device_limit               integer NOT NULL,
    concurrent_sessions_limit  integer NOT NULL,
    notes                      text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT licenses_license_key_key UNIQUE (license_key),
    CONSTRAINT licenses_device_limit_range CHECK (device_limit BETWEEN 1 AND 10),
    CONSTRAINT licenses_concurrent_limit_range
        CHECK (concurrent_sessions_limit BETWEEN 1 AND device_limit),
    CONSTRAINT licenses_validity_window CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX licenses_customer_id_idx ON licenses (customer_id);
CREATE TRIGGER licenses_updated_at BEFORE UPDATE ON licenses
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The one device table. A deactivated device keeps its row (history, audit) but frees its slot.
CREATE TABLE device_registrations (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id            uuid NOT NULL REFERENCES licenses (id) ON DELETE RESTRICT,
    hardware_fingerprint  text NOT NULL CHECK (length(hardware_fingerprint) BETWEEN 1 AND 256),
    device_name           text NOT NULL DEFAULT '' CHECK (length(device_name) <= 200),
    device_type           text NOT NULL DEFAULT '' CHECK (length(device_type) <= 100),
    first_activated_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at          timestamptz NOT NULL DEFAULT now(),
    is_active             boolean NOT NULL DEFAULT true,
    deactivated_at        timestamptz,
    CONSTRAINT device_registrations_fingerprint_key UNIQUE (license_id, hardware_fingerprint)
);
CREATE INDEX device_registrations_active_idx ON device_registrations (license_id) WHERE is_active;

-- Live sessions. A row here is a session that has not been ended; whether it is still *live*
-- is decided by the age of `last_heartbeat_at`, never by whether the cleanup has run yet.
CREATE TABLE license_sessions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_token      uuid NOT NULL,
    license_id         uuid NOT NULL REFERENCES licenses (id) ON DELETE RESTRICT,
    device_id          uuid NOT NULL REFERENCES device_registrations (id) ON DELETE RESTRICT,
    started_at         timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    client_ip          inet,
    CONSTRAINT license_sessions_session_token_key UNIQUE (session_token),
    -- At most one session per device, whatever the application does.
    CONSTRAINT license_sessions_device_id_key UNIQUE (device_id)
);
CREATE INDEX license_sessions_license_id_idx ON license_sessions (license_id);
CREATE INDEX license_sessions_last_heartbeat_idx ON license_sessions (last_heartbeat_at);

CREATE TABLE session_history (
    id                 uuid PRIMARY KEY,
    session_token      uuid NOT NULL,
    license_id         uuid NOT NULL REFERENCES licenses (id) ON DELETE RESTRICT,
    device_id          uuid NOT NULL REFERENCES device_registrations (id) ON DELETE RESTRICT,
    started_at         timestamptz NOT NULL,
    last_heartbeat_at  timestamptz NOT NULL,
    ended_at           timestamptz NOT NULL,
    end_reason         text NOT NULL CHECK (end_reason IN
                           ('client_ended', 'timeout', 'admin_terminated',
                            'device_deactivated', 'license_revoked')),
    client_ip          inet,
    CONSTRAINT session_history_session_token_key UNIQUE (session_token)
);
CREATE INDEX session_history_license_idx ON session_history (license_id, ended_at DESC);
CREATE INDEX session_history_device_idx ON session_history (device_id, last_heartbeat_at DESC);

-- One row per accepted heartbeat, one partition per calendar month (UTC).
CREATE TABLE license_heartbeats (
    session_id   uuid NOT NULL,
    license_id   uuid NOT NULL,
    device_id    uuid NOT NULL,
    received_at  timestamptz NOT NULL
) PARTITION BY RANGE (received_at);
CREATE INDEX license_heartbeats_license_idx ON license_heartbeats (license_id, received_at);
-- Safety net: a heartbeat is never refused for want of a partition. Rows here are reported by
-- partition maintenance; the monthly partitions are created well ahead so it stays empty.
CREATE TABLE license_heartbeats_default PARTITION OF license_heartbeats DEFAULT;

-- Creates the monthly partitions from `first_month` for `months` months; idempotent and safe
-- when several server instances call it at once (serialised by an advisory lock).
CREATE FUNCTION ensure_heartbeat_partitions(first_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', first_month)::date;
    partition_name text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('license_heartbeats partitions'));
    FOR i IN 0 .. months - 1 LOOP
        partition_name := format('license_heartbeats_%s', to_char(month_start, 'YYYYMM'));
        IF to_regclass(partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF license_heartbeats FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00',
                to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;
SELECT ensure_heartbeat_partitions((now() AT TIME ZONE 'UTC')::date, 3);
