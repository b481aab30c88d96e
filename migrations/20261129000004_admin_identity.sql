-- Dashboard users, their sessions, second factors and login throttling.

CREATE TABLE admin_users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username         text NOT NULL CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role             text NOT NULL CHECK (role IN ('admin', 'analyst')),
    -- argon2id PHC string.
    password_hash    text NOT NULL,
    is_disabled      boolean NOT NULL DEFAULT false,
    -- Raw TOTP secret once confirmed; the pending one while enrolling.
    totp_secret      bytea,
    totp_pending     bytea,
    totp_enabled_at  timestamptz,
    -- The newest 30-second step accepted: every step is accepted at most once.
    totp_last_step   bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz
);
CREATE UNIQUE INDEX admin_users_username_key ON admin_users (lower(username));
CREATE TRIGGER admin_users_updated_at BEFORE UPDATE ON admin_users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE admin_recovery_codes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    CONSTRAINT admin_recovery_codes_hash_key UNIQUE (user_id, code_hash)
);

-- Server-side dashboard sessions; the cookie carries the token, the table only its SHA-256.
CREATE TABLE admin_sessions (
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    -- 'enrollment': an admin who must set up 2FA first may do nothing else.
    kind          text NOT NULL CHECK (kind IN ('full', 'enrollment')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    client_ip     inet
);
CREATE INDEX admin_sessions_user_idx ON admin_sessions (user_id);

-- Short-lived proof that the password step passed, redeemed once with a TOTP or recovery code.
CREATE TABLE login_challenges (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

-- Failed attempts per account name (known or not, so that throttling reveals nothing),
-- across all sessions and addresses.
CREATE TABLE login_throttle (
    account        text PRIMARY KEY,
    failures       integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    last_failure_at timestamptz
);
