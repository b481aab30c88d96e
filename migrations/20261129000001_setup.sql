-- Shared helpers every later migration may rely on.

-- Keeps `updated_at` honest without every UPDATE statement having to remember it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
