-- An API key's own rate limit (`setApiKeyRateLimit`); NULL means its scope's default.
ALTER TABLE api_keys
    ADD COLUMN rate_limit_per_second integer,
    ADD COLUMN rate_limit_burst integer,
    ADD CONSTRAINT api_keys_rate_limit_check CHECK (
        (rate_limit_per_second IS NULL AND rate_limit_burst IS NULL)
        OR (rate_limit_per_second BETWEEN 1 AND 10000000 AND rate_limit_burst BETWEEN 1 AND 10000000)
    );
