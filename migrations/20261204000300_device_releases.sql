-- Every deactivation of a device: by its own client (`releaseDevice`, bounded by the license's
-- `max_device_releases` per rolling 30 days) or by an admin (`by_admin`, never bounded and never
-- counted against the clients).
CREATE TABLE device_releases (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id   uuid NOT NULL REFERENCES licenses (id) ON DELETE RESTRICT,
    device_id    uuid NOT NULL REFERENCES device_registrations (id) ON DELETE RESTRICT,
    released_at  timestamptz NOT NULL DEFAULT now(),
    by_admin     boolean NOT NULL
);
-- What the limit counts: a license's client releases in the window.
CREATE INDEX device_releases_by_clients_idx ON device_releases (license_id, released_at) WHERE NOT by_admin;

-- The cleanup ends the live sessions of licenses whose validity has ended: it reads only those.
CREATE INDEX licenses_valid_until_idx ON licenses (valid_until) WHERE valid_until IS NOT NULL;
