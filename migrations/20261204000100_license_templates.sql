-- Reusable license terms ("Trial 14 days, 1 device", "Pro, 5 devices, 3 concurrent, offline 7
-- days"). A template fills the terms a new license's input leaves out; licenses do not keep a
-- reference to it, so changing or deleting a template never changes a license.
CREATE TABLE license_templates (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                       text NOT NULL,
    license_type               text NOT NULL CHECK (license_type IN ('trial', 'subscription', 'perpetual')),
    device_limit               integer NOT NULL,
    concurrent_sessions_limit  integer NOT NULL,
    -- A license made from the template is valid this many days from its start; NULL: open-ended.
    duration_days              integer,
    features                   text[] NOT NULL DEFAULT '{}',
    offline_grace_seconds      integer NOT NULL DEFAULT 0,
    max_device_releases        integer NOT NULL DEFAULT 3,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT license_templates_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    CONSTRAINT license_templates_device_limit_range CHECK (device_limit BETWEEN 1 AND 10),
    CONSTRAINT license_templates_concurrent_limit_range CHECK (concurrent_sessions_limit BETWEEN 1 AND device_limit),
    CONSTRAINT license_templates_duration_range CHECK (duration_days BETWEEN 1 AND 36500),
    CONSTRAINT license_templates_features_valid CHECK (valid_feature_names(features)),
    CONSTRAINT license_templates_offline_grace_range CHECK (offline_grace_seconds BETWEEN 0 AND 2592000),
    CONSTRAINT license_templates_max_device_releases_range CHECK (max_device_releases BETWEEN 0 AND 1000)
);
CREATE UNIQUE INDEX license_templates_name_key ON license_templates (lower(name));
CREATE TRIGGER license_templates_updated_at BEFORE UPDATE ON license_templates
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
