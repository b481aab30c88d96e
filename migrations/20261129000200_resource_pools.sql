-- Resource pools: domains, IPv4 addresses and phone numbers handed out to licenses.
-- Values are stored normalised (lower-case ASCII domain, dotted-quad IPv4, E.164 phone), so the
-- unique constraint per type is the duplicate check.

CREATE TABLE resource_pools (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_type      text NOT NULL CHECK (resource_type IN ('domain', 'ipv4', 'phone')),
    value              text NOT NULL CHECK (length(value) BETWEEN 1 AND 253),
    state              text NOT NULL DEFAULT 'available'
                       CHECK (state IN ('available', 'allocated', 'quarantined')),
    license_id         uuid REFERENCES licenses (id) ON DELETE RESTRICT,
    quarantine_reason  text CHECK (length(quarantine_reason) BETWEEN 1 AND 500),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_pools_type_value_key UNIQUE (resource_type, value),
    -- Allocated exactly when held by a license; quarantined exactly when a reason is given.
    CONSTRAINT resource_pools_allocation_consistent CHECK ((state = 'allocated') = (license_id IS NOT NULL)),
    CONSTRAINT resource_pools_quarantine_consistent
        CHECK ((state = 'quarantined') = (quarantine_reason IS NOT NULL))
);
-- Allocation takes the oldest available resources of a type.
CREATE INDEX resource_pools_available_idx ON resource_pools (resource_type, created_at, value)
    WHERE state = 'available';
CREATE INDEX resource_pools_license_idx ON resource_pools (license_id) WHERE license_id IS NOT NULL;
CREATE TRIGGER resource_pools_updated_at BEFORE UPDATE ON resource_pools
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Every move of a resource between states, written in the transaction of the move.
-- `from_state` is NULL for the import that created the resource.
CREATE TABLE resource_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id  uuid NOT NULL REFERENCES resource_pools (id) ON DELETE RESTRICT,
    from_state   text CHECK (from_state IN ('available', 'allocated', 'quarantined')),
    to_state     text NOT NULL CHECK (to_state IN ('available', 'allocated', 'quarantined')),
    -- The license the resource was allocated to or released from.
    license_id   uuid REFERENCES licenses (id) ON DELETE RESTRICT,
    reason       text,
    actor_type   text NOT NULL,
    actor_id     text,
    actor_name   text NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resource_history_resource_idx ON resource_history (resource_id, occurred_at, id);
CREATE INDEX resource_history_license_idx ON resource_history (license_id, occurred_at) WHERE license_id IS NOT NULL;
