-- A person's own dashboard sessions, listed on their account page: each gets an id to be named by
-- (the token's digest stays internal) and the browser's User-Agent as it signed in, so that people
-- can tell their sessions apart and end the ones they do not recognise. Sessions from before have
-- no user agent.
ALTER TABLE admin_sessions
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN user_agent text CHECK (char_length(user_agent) <= 256);
ALTER TABLE admin_sessions ADD CONSTRAINT admin_sessions_id_key UNIQUE (id);
