-- What a license grants besides its limits: named features (editions, modules), how long a client
-- may stay licensed without reaching the server (the offline grace of its signed leases), and how
-- many devices its own clients may release per rolling 30 days (`releaseDevice`).
CREATE FUNCTION valid_feature_names(features text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN cardinality(features) <= 64
       AND (SELECT coalesce(bool_and(f ~ '^[a-z0-9][a-z0-9._:-]{0,63}$'), true) FROM unnest(features) AS f)
       AND cardinality(features) = (SELECT count(DISTINCT f) FROM unnest(features) AS f);

ALTER TABLE licenses
    ADD COLUMN features text[] NOT NULL DEFAULT '{}',
    ADD COLUMN offline_grace_seconds integer NOT NULL DEFAULT 0,
    ADD COLUMN max_device_releases integer NOT NULL DEFAULT 3,
    ADD CONSTRAINT licenses_features_valid CHECK (valid_feature_names(features)),
    ADD CONSTRAINT licenses_offline_grace_range CHECK (offline_grace_seconds BETWEEN 0 AND 2592000),
    ADD CONSTRAINT licenses_max_device_releases_range CHECK (max_device_releases BETWEEN 0 AND 1000);

-- A heartbeat after the license's end ends its session.
ALTER TABLE session_history DROP CONSTRAINT session_history_end_reason_check;
ALTER TABLE session_history ADD CONSTRAINT session_history_end_reason_check CHECK (end_reason IN
    ('client_ended', 'timeout', 'admin_terminated', 'device_deactivated', 'license_revoked', 'license_expired'));

-- Ed25519 keys that sign leases. The private half never leaves the server (no GraphQL type reads
-- this table); the public halves are published at /.well-known/jwks.json. Exactly one key is
-- current (signs); a retired key stays published until every lease it signed has expired.
CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    private_key      bytea NOT NULL,                                  -- PKCS#8 v1 DER
    public_key       bytea NOT NULL CHECK (length(public_key) = 32),
    created_at       timestamptz NOT NULL DEFAULT now(),
    retired_at       timestamptz,
    published_until  timestamptz,
    CONSTRAINT signing_keys_retirement CHECK ((retired_at IS NULL) = (published_until IS NULL))
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;
