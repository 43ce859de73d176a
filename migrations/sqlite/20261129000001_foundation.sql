-- Foundation: offices, staff, devices, the case register and the oversight log.
-- Times are RFC 3339 text in UTC with microseconds; dates are YYYY-MM-DD text.

CREATE TABLE offices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    county      TEXT NOT NULL,
    city        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX offices_county ON offices (county);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('office_officer', 'county_officer', 'county_head', 'city_officer', 'procurator', 'admin')),
    scope_kind     TEXT NOT NULL CHECK (scope_kind IN ('office', 'county', 'city', 'region')),
    scope          TEXT NOT NULL,
    token_epoch    INTEGER NOT NULL DEFAULT 0,
    disabled_at    TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE login_failures (
    username      TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    locked_until  TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures (updated_at);

CREATE TABLE persons (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT NOT NULL,
    category               TEXT NOT NULL CHECK (category IN ('control', 'probation', 'parole', 'temporary_release')),
    residence_adcode       TEXT NOT NULL,
    office_id              TEXT NOT NULL REFERENCES offices (id),
    county                 TEXT NOT NULL,
    city                   TEXT NOT NULL,
    judgment_effective_on  TEXT NOT NULL,
    released_on            TEXT,
    supervision_ends_on    TEXT NOT NULL,
    registration_due_on    TEXT NOT NULL,
    registered_on          TEXT,
    state                  TEXT,
    ended_on               TEXT,
    created_at             TEXT NOT NULL,
    created_by             INTEGER NOT NULL REFERENCES users (id)
);
CREATE INDEX persons_office ON persons (office_id);
CREATE INDEX persons_county ON persons (county);
CREATE INDEX persons_city ON persons (city);

CREATE TABLE devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES persons (id),
    kind         TEXT NOT NULL CHECK (kind IN ('phone', 'tag')),
    key_hash     TEXT NOT NULL UNIQUE,
    enrolled_at  TEXT NOT NULL,
    enrolled_by  INTEGER NOT NULL REFERENCES users (id),
    revoked_at   TEXT,
    revoked_by   INTEGER REFERENCES users (id)
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
    created_at    TEXT NOT NULL,
    PRIMARY KEY (principal, key)
);

-- The oversight log: seq is handed out by bumping the single head row, which serialises appends.
CREATE TABLE oversight_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT INTO oversight_head (id, seq) VALUES (1, 0);

CREATE TABLE oversight_events (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    county     TEXT NOT NULL,
    person_id  INTEGER,
    actor      TEXT NOT NULL,
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX oversight_events_county ON oversight_events (county, seq);
CREATE INDEX oversight_events_person ON oversight_events (person_id, seq);

-- Append-only: the service never changes an event. Anyone who removes these triggers to edit one
-- is caught by the hash chain.
CREATE TRIGGER oversight_events_no_update BEFORE UPDATE ON oversight_events
BEGIN SELECT RAISE(ABORT, 'the oversight log is append-only'); END;
CREATE TRIGGER oversight_events_no_delete BEFORE DELETE ON oversight_events
BEGIN SELECT RAISE(ABORT, 'the oversight log is append-only'); END;
