-- The procuratorate's side: opinions with the agency's written reply, and webhook subscriptions
-- that push the oversight log to both agencies' own systems.

-- 检察建议 (suggestion) or 纠正意见 (correction) on a person, one of their alerts or applications,
-- addressed to the corrections agency of the person's county.
CREATE TABLE opinions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('suggestion', 'correction')),
    person_id       INTEGER NOT NULL REFERENCES persons (id),
    subject         TEXT NOT NULL CHECK (subject IN ('person', 'alert', 'application')),
    subject_id      INTEGER NOT NULL,
    county          TEXT NOT NULL,
    text            TEXT NOT NULL,
    reply_due       TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    issued_by       INTEGER NOT NULL REFERENCES users (id),
    outcome         TEXT CHECK (outcome IN ('adopted', 'partly_adopted', 'not_adopted')),
    reply           TEXT,
    replied_at      TEXT,
    replied_by      INTEGER REFERENCES users (id),
    -- When the missed deadline was recorded as an event (once).
    overdue_at      TEXT
);
CREATE INDEX opinions_person ON opinions (person_id, id);
CREATE INDEX opinions_due ON opinions (reply_due) WHERE replied_at IS NULL AND overdue_at IS NULL;

-- A receiver of the events of one jurisdiction (an office, a county or city agency, a
-- procuratorate). `cursor` is the last seq delivered or passed over: delivery resumes after it.
-- The agency owns it: the corrections agency and the procuratorate of one county never see or
-- end each other's.
CREATE TABLE webhooks (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    agency              TEXT NOT NULL CHECK (agency IN ('corrections', 'procuratorate')),
    scope_kind          TEXT NOT NULL CHECK (scope_kind IN ('office', 'county', 'city')),
    scope               TEXT NOT NULL,
    url                 TEXT NOT NULL,
    -- JSON array of event kinds; empty for every kind.
    kinds               TEXT NOT NULL,
    secret              TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    created_by          INTEGER NOT NULL REFERENCES users (id),
    deleted_at          TEXT,
    cursor              INTEGER NOT NULL,
    failures            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TEXT,
    last_attempt_at     TEXT,
    last_status         INTEGER,
    last_error          TEXT,
    last_delivered_at   TEXT,
    -- The claim delivering it (one per claim, not per instance), until when: one delivery at a
    -- time per subscription.
    claimed_by          TEXT,
    claimed_until       TEXT
);
CREATE INDEX webhooks_scope ON webhooks (agency, scope_kind, scope);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (id),
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    status       INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
