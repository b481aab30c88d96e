-- The lead CRM: institutions, their contacts with phones and e-mails, and versioned notes.

CREATE TABLE institutions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    institution_type  text NOT NULL DEFAULT '' CHECK (length(institution_type) <= 100),
    address           text NOT NULL DEFAULT '' CHECK (length(address) <= 500),
    website           text NOT NULL DEFAULT '' CHECK (length(website) <= 300),
    -- Set when the lead became (or was linked to) a customer; one institution per customer.
    customer_id       uuid REFERENCES customers (id) ON DELETE RESTRICT,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT institutions_customer_id_key UNIQUE (customer_id)
);
CREATE TRIGGER institutions_updated_at BEFORE UPDATE ON institutions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE contacts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id  uuid NOT NULL REFERENCES institutions (id) ON DELETE RESTRICT,
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    position        text NOT NULL DEFAULT '' CHECK (length(position) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_institution_idx ON contacts (institution_id);
CREATE TRIGGER contacts_updated_at BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Phone numbers are stored in E.164, the form the resource pools use too.
CREATE TABLE contact_phones (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('work', 'mobile', 'home', 'fax', 'other')),
    number      text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{1,14}$'),
    CONSTRAINT contact_phones_number_key UNIQUE (contact_id, number)
);

CREATE TABLE contact_emails (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('work', 'personal', 'other')),
    email       text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 254)
);
CREATE UNIQUE INDEX contact_emails_email_key ON contact_emails (contact_id, lower(email));

-- A note belongs to an institution or a contact; its text lives in `note_versions`, one row per
-- edit, so every earlier version stays readable. The latest version is the current text.
CREATE TABLE notes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id  uuid REFERENCES institutions (id) ON DELETE RESTRICT,
    contact_id      uuid REFERENCES contacts (id) ON DELETE RESTRICT,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notes_one_subject CHECK ((institution_id IS NULL) <> (contact_id IS NULL))
);
CREATE INDEX notes_institution_idx ON notes (institution_id) WHERE institution_id IS NOT NULL;
CREATE INDEX notes_contact_idx ON notes (contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE note_versions (
    note_id    uuid NOT NULL REFERENCES notes (id) ON DELETE RESTRICT,
    version    integer NOT NULL CHECK (version >= 1),
    body       text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 10000),
    edited_by  text NOT NULL,
    edited_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (note_id, version)
);

-- Earlier versions are history: they are never changed or removed.
CREATE FUNCTION note_versions_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'note_versions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER note_versions_no_update_or_delete BEFORE UPDATE OR DELETE ON note_versions
    FOR EACH ROW EXECUTE FUNCTION note_versions_are_append_only();
