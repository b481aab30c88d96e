-- Sign-in throttling per account *and* address, so that nobody can keep a known user locked out
-- from elsewhere, plus an account-wide window with a much higher cap that still bounds a guesser
-- spread over many addresses. The old per-name counters are throttle state only (nothing to
-- keep): they are dropped with their table.
DROP TABLE login_throttle;

-- Failures of one account name (known or not) from one address: an IPv4 address, or the /64 an
-- IPv6 address belongs to (one subscriber usually holds a whole /64).
CREATE TABLE login_throttle (
    account          text NOT NULL,
    address          inet NOT NULL,
    failures         integer NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    last_failure_at  timestamptz,
    PRIMARY KEY (account, address)
);

-- Failures of one account name from all addresses within a one-hour window.
CREATE TABLE login_throttle_accounts (
    account            text PRIMARY KEY,
    failures           integer NOT NULL DEFAULT 0,
    window_started_at  timestamptz NOT NULL DEFAULT now()
);

-- Recovery codes are salted from now on: digest = SHA-256(salt || code). Codes issued before have
-- no salt (the unsalted SHA-256 of a 50-bit code); they keep working until the user gets new
-- ones. Their weakness is the code's entropy, which no migration can add without the plaintext.
ALTER TABLE admin_recovery_codes ADD COLUMN salt bytea;
