-- Travel (外出) and regular cross-city activity applications; an approved one is a permit.
CREATE TABLE travel_applications (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id              INTEGER NOT NULL REFERENCES persons (id),
    kind                   TEXT NOT NULL CHECK (kind IN ('trip', 'regular')),
    -- JSON array of county- or city-level adcodes.
    destinations           TEXT NOT NULL,
    starts_on              TEXT NOT NULL,
    ends_on                TEXT NOT NULL,
    reason_category        TEXT NOT NULL CHECK (reason_category IN ('medical', 'study', 'litigation', 'family', 'work', 'other')),
    reason                 TEXT NOT NULL,
    -- Regular activity: the typical schedule and frequency, as the person describes them.
    schedule               TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    decided_by             TEXT NOT NULL CHECK (decided_by IN ('office', 'county', 'city')),
    notify_procuratorate   INTEGER NOT NULL,
    rule                   TEXT NOT NULL,
    warnings               TEXT NOT NULL,
    submitted_at           TEXT NOT NULL,
    submitted_by           TEXT NOT NULL,
    decided_at             TEXT,
    decider                INTEGER REFERENCES users (id),
    decision_reason        TEXT,
    -- A request to extend this approved trip to a later end (routed by the new total length).
    extends_id             INTEGER REFERENCES travel_applications (id),
    -- The person's reports during the trip.
    arrived_at             TEXT,
    returned_at            TEXT,
    -- When still being away after the trip (and its grace) raised overdue_return.
    overdue_at             TEXT
);
CREATE INDEX travel_applications_person ON travel_applications (person_id, id);
CREATE INDEX travel_applications_pending ON travel_applications (decided_by, id) WHERE status = 'pending';

-- Consultation (会商): an officer asks the person's county procuratorate for a written opinion.
CREATE TABLE consultations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES travel_applications (id),
    question        TEXT NOT NULL,
    deadline        TEXT NOT NULL,
    asked_at        TEXT NOT NULL,
    asked_by        INTEGER NOT NULL REFERENCES users (id),
    stance          TEXT CHECK (stance IN ('support', 'oppose', 'conditional')),
    opinion         TEXT,
    answered_at     TEXT,
    answered_by     INTEGER REFERENCES users (id)
);
CREATE INDEX consultations_application ON consultations (application_id, id);

-- Hearing (听证会): scheduled, then its outcome recorded.
CREATE TABLE hearings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES travel_applications (id),
    scheduled_at    TEXT NOT NULL,
    place           TEXT NOT NULL,
    participants    TEXT NOT NULL,
    outcome         TEXT,
    recorded_at     TEXT,
    created_at      TEXT NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES users (id)
);
CREATE INDEX hearings_application ON hearings (application_id, id);
