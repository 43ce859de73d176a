-- Foundation: offices, staff, devices, the case register and the oversight log.

CREATE TABLE offices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    county      TEXT NOT NULL,
    city        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX offices_county ON offices (county);

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('office_officer', 'county_officer', 'county_head', 'city_officer', 'procurator', 'admin')),
    scope_kind     TEXT NOT NULL CHECK (scope_kind IN ('office', 'county', 'city', 'region')),
    scope          TEXT NOT NULL,
    token_epoch    BIGINT NOT NULL DEFAULT 0,
    disabled_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE login_failures (
    username      TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    locked_until  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures (updated_at);

CREATE TABLE persons (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   TEXT NOT NULL,
    category               TEXT NOT NULL CHECK (category IN ('control', 'probation', 'parole', 'temporary_release')),
    residence_adcode       TEXT NOT NULL,
    office_id              TEXT NOT NULL REFERENCES offices (id),
    county                 TEXT NOT NULL,
    city                   TEXT NOT NULL,
    judgment_effective_on  DATE NOT NULL,
    released_on            DATE,
    supervision_ends_on    DATE NOT NULL,
    registration_due_on    DATE NOT NULL,
    registered_on          DATE,
    state                  TEXT,
    ended_on               DATE,
    created_at             TIMESTAMPTZ NOT NULL,
    created_by             BIGINT NOT NULL REFERENCES users (id)
);
CREATE INDEX persons_office ON persons (office_id);
CREATE INDEX persons_county ON persons (county);
CREATE INDEX persons_city ON persons (city);

CREATE TABLE devices (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    BIGINT NOT NULL REFERENCES persons (id),
    kind         TEXT NOT NULL CHECK (kind IN ('phone', 'tag')),
    key_hash     TEXT NOT NULL UNIQUE,
    enrolled_at  TIMESTAMPTZ NOT NULL,
    enrolled_by  BIGINT NOT NULL REFERENCES users (id),
    revoked_at   TIMESTAMPTZ,
    revoked_by   BIGINT REFERENCES users (id)
);
CREATE INDEX devices_person ON devices (person_id);
-- At most one active device of each kind per person, even under concurrent enrolments.
CREATE UNIQUE INDEX devices_one_active ON devices (person_id, kind) WHERE revoked_at IS NULL;

-- Retried creates: the same key from the same principal answers with what it created.
CREATE TABLE idempotency_keys (
    principal     TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    resource      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (principal, key)
);

-- The oversight log: seq is handed out by bumping the single head row, whose row lock
-- serialises appends across every instance until the appending transaction commits.
CREATE TABLE oversight_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL
);
INSERT INTO oversight_head (id, seq) VALUES (1, 0);

CREATE TABLE oversight_events (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    county     TEXT NOT NULL,
    person_id  BIGINT,
    actor      TEXT NOT NULL,
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX oversight_events_county ON oversight_events (county, seq);
CREATE INDEX oversight_events_person ON oversight_events (person_id, seq);

-- Append-only: the service never changes an event. Anyone who removes this trigger to edit one
-- is caught by the hash chain.
CREATE FUNCTION oversight_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the oversight log is append-only';
END;
$$;
CREATE TRIGGER oversight_events_append_only BEFORE UPDATE OR DELETE ON oversight_events
    FOR EACH ROW EXECUTE FUNCTION oversight_append_only();
