-- The procuratorate's side: opinions with the agency's written reply, and webhook subscriptions
-- that push the oversight log to both agencies' own systems.

-- 检察建议 (suggestion) or 纠正意见 (correction) on a person, one of their alerts or applications,
-- addressed to the corrections agency of the person's county.
CREATE TABLE opinions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('suggestion', 'correction')),
    person_id       BIGINT NOT NULL REFERENCES persons (id),
    subject         TEXT NOT NULL CHECK (subject IN ('person', 'alert', 'application')),
    subject_id      BIGINT NOT NULL,
    county          TEXT NOT NULL,
    text            TEXT NOT NULL,
    reply_due       TIMESTAMPTZ NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL,
    issued_by       BIGINT NOT NULL REFERENCES users (id),
    outcome         TEXT CHECK (outcome IN ('adopted', 'partly_adopted', 'not_adopted')),
    reply           TEXT,
    replied_at      TIMESTAMPTZ,
    replied_by      BIGINT REFERENCES users (id),
    -- When the missed deadline was recorded as an event (once).
    overdue_at      TIMESTAMPTZ
);
CREATE INDEX opinions_person ON opinions (person_id, id);
CREATE INDEX opinions_due ON opinions (reply_due) WHERE replied_at IS NULL AND overdue_at IS NULL;

-- A receiver of the events of one jurisdiction (an office, a county or city agency, a
-- procuratorate). `cursor` is the last seq delivered or passed over: delivery resumes after it.
-- The agency owns it: the corrections agency and the procuratorate of one county never see or
-- end each other's.
CREATE TABLE webhooks (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency              TEXT NOT NULL CHECK (agency IN ('corrections', 'procuratorate')),
    scope_kind          TEXT NOT NULL CHECK (scope_kind IN ('office', 'county', 'city')),
    scope               TEXT NOT NULL,
    url                 TEXT NOT NULL,
    -- JSON array of event kinds; empty for every kind.
    kinds               TEXT NOT NULL,
    secret              TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    created_by          BIGINT NOT NULL REFERENCES users (id),
    deleted_at          TIMESTAMPTZ,
    cursor              BIGINT NOT NULL,
    failures            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ,
    last_attempt_at     TIMESTAMPTZ,
    last_status         INTEGER,
    last_error          TEXT,
    last_delivered_at   TIMESTAMPTZ,
    -- The claim delivering it (one per claim, not per instance), until when: one delivery at a
    -- time per subscription.
    claimed_by          TEXT,
    claimed_until       TIMESTAMPTZ
);
CREATE INDEX webhooks_scope ON webhooks (agency, scope_kind, scope);

CREATE TABLE webhook_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id),
    seq          BIGINT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    status       INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
