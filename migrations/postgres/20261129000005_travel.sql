-- Travel (外出) and regular cross-city activity applications; an approved one is a permit.
CREATE TABLE travel_applications (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id              BIGINT NOT NULL REFERENCES persons (id),
    kind                   TEXT NOT NULL CHECK (kind IN ('trip', 'regular')),
    -- JSON array of county- or city-level adcodes.
    destinations           TEXT NOT NULL,
    starts_on              DATE NOT NULL,
    ends_on                DATE NOT NULL,
    reason_category        TEXT NOT NULL CHECK (reason_category IN ('medical', 'study', 'litigation', 'family', 'work', 'other')),
    reason                 TEXT NOT NULL,
    -- Regular activity: the typical schedule and frequency, as the person describes them.
    schedule               TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    decided_by             TEXT NOT NULL CHECK (decided_by IN ('office', 'county', 'city')),
    notify_procuratorate   BOOLEAN NOT NULL,
    rule                   TEXT NOT NULL,
    warnings               TEXT NOT NULL,
    submitted_at           TIMESTAMPTZ NOT NULL,
    submitted_by           TEXT NOT NULL,
    decided_at             TIMESTAMPTZ,
    decider                BIGINT REFERENCES users (id),
    decision_reason        TEXT,
    -- A request to extend this approved trip to a later end (routed by the new total length).
    extends_id             BIGINT REFERENCES travel_applications (id),
    -- The person's reports during the trip.
    arrived_at             TIMESTAMPTZ,
    returned_at            TIMESTAMPTZ,
    -- When still being away after the trip (and its grace) raised overdue_return.
    overdue_at             TIMESTAMPTZ
);
CREATE INDEX travel_applications_person ON travel_applications (person_id, id);
CREATE INDEX travel_applications_pending ON travel_applications (decided_by, id) WHERE status = 'pending';

-- Consultation (会商): an officer asks the person's county procuratorate for a written opinion.
CREATE TABLE consultations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  BIGINT NOT NULL REFERENCES travel_applications (id),
    question        TEXT NOT NULL,
    deadline        TIMESTAMPTZ NOT NULL,
    asked_at        TIMESTAMPTZ NOT NULL,
    asked_by        BIGINT NOT NULL REFERENCES users (id),
    stance          TEXT CHECK (stance IN ('support', 'oppose', 'conditional')),
    opinion         TEXT,
    answered_at     TIMESTAMPTZ,
    answered_by     BIGINT REFERENCES users (id)
);
CREATE INDEX consultations_application ON consultations (application_id, id);

-- Hearing (听证会): scheduled, then its outcome recorded.
CREATE TABLE hearings (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id  BIGINT NOT NULL REFERENCES travel_applications (id),
    scheduled_at    TIMESTAMPTZ NOT NULL,
    place           TEXT NOT NULL,
    participants    TEXT NOT NULL,
    outcome         TEXT,
    recorded_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      BIGINT NOT NULL REFERENCES users (id)
);
CREATE INDEX hearings_application ON hearings (application_id, id);
