-- The supervision loop: each person's running judgement, alerts (one per episode), check-in
-- requests, tag events, sanctions, monitoring orders and the scheduler's leases.

-- Where the person's newest fix left the judgement, and the current run of fixes outside.
ALTER TABLE persons ADD COLUMN last_fix_at TIMESTAMPTZ;
ALTER TABLE persons ADD COLUMN outside_run TEXT;
ALTER TABLE persons ADD COLUMN ended_reason TEXT;
-- When the next random spot check (a check-in request from the schedule) is due.
ALTER TABLE persons ADD COLUMN next_spot_check_at TIMESTAMPTZ;
CREATE INDEX persons_spot_check ON persons (next_spot_check_at) WHERE ended_on IS NULL;

-- Lost contact is judged per device: a phone and a tag have different intervals.
ALTER TABLE devices ADD COLUMN last_fix_at TIMESTAMPTZ;

-- A zone is judged against the person's last position once it comes into force (a person who
-- does not move is inside a zone drawn around them).
ALTER TABLE zones ADD COLUMN rejudged BOOLEAN NOT NULL DEFAULT FALSE;

-- Periods without any fix longer than policy.unreachable_warn_hours (local rules warn on them).
CREATE TABLE silent_periods (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES persons (id),
    from_at     TIMESTAMPTZ NOT NULL,
    until_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX silent_periods_person ON silent_periods (person_id, id);

-- Fixes get an `evidence` flag (alert evidence outlives the retention period), and one index
-- (person, position time, client id) serves both uniqueness and time-ordered reads: a second
-- index cost a fifth of every insert.
ALTER TABLE fixes ADD COLUMN evidence BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE fixes ADD CONSTRAINT fixes_person_at_client UNIQUE (person_id, at, client_id);
ALTER TABLE fixes DROP CONSTRAINT fixes_person_id_client_id_at_key;
DROP INDEX fixes_person_at;

CREATE TABLE alerts (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id         BIGINT NOT NULL REFERENCES persons (id),
    kind              TEXT NOT NULL CHECK (kind IN ('unapproved_absence', 'exclusion_zone_entry', 'lost_contact',
                          'missed_checkin', 'missed_registration', 'overdue_return', 'device_tamper', 'low_battery',
                          'monitoring_order_expiring')),
    status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    retrospective     BOOLEAN NOT NULL DEFAULT FALSE,
    -- When the episode began (position time of its first evidence) and ended (back in contact,
    -- back inside, …); NULL while it runs.
    opened_at         TIMESTAMPTZ NOT NULL,
    episode_ended_at  TIMESTAMPTZ,
    raised_at         TIMESTAMPTZ NOT NULL,
    device_id         BIGINT REFERENCES devices (id),
    evidence          TEXT NOT NULL,
    ack_due_at        TIMESTAMPTZ NOT NULL,
    ack_missed_at     TIMESTAMPTZ,
    acknowledged_at   TIMESTAMPTZ,
    acknowledged_by   BIGINT REFERENCES users (id),
    resolved_at       TIMESTAMPTZ,
    resolved_by       BIGINT REFERENCES users (id),
    disposition       TEXT CHECK (disposition IN ('false_alarm', 'justified', 'admonition', 'warning', 'escalated')),
    note              TEXT,
    suppressed_until  TIMESTAMPTZ,
    suppress_reason   TEXT,
    suppressed_by     BIGINT REFERENCES users (id)
);
-- One alert per person and kind while its episode runs: new evidence joins it.
CREATE UNIQUE INDEX alerts_one_per_episode ON alerts (person_id, kind) WHERE episode_ended_at IS NULL;
CREATE INDEX alerts_person ON alerts (person_id, id);
CREATE INDEX alerts_ack_due ON alerts (ack_due_at) WHERE status = 'open' AND ack_missed_at IS NULL;

CREATE TABLE checkin_requests (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id     BIGINT NOT NULL REFERENCES persons (id),
    requested_at  TIMESTAMPTZ NOT NULL,
    deadline      TIMESTAMPTZ NOT NULL,
    requested_by  BIGINT REFERENCES users (id),
    answered_at   TIMESTAMPTZ,
    answer_fix    TEXT,
    missed_at     TIMESTAMPTZ,
    -- Supervision ended before the request was answered.
    cancelled_at  TIMESTAMPTZ
);
CREATE INDEX checkin_requests_person ON checkin_requests (person_id, id);
CREATE INDEX checkin_requests_pending ON checkin_requests (deadline)
    WHERE answered_at IS NULL AND missed_at IS NULL AND cancelled_at IS NULL;

-- Tamper, strap and battery events from tags, once per (device, client id, time).
CREATE TABLE device_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES persons (id),
    device_id   BIGINT NOT NULL REFERENCES devices (id),
    client_id   TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('strap_opened', 'strap_closed', 'case_opened', 'battery_low', 'battery_ok')),
    battery_pct INTEGER,
    UNIQUE (device_id, client_id, at)
);

CREATE TABLE sanctions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES persons (id),
    kind        TEXT NOT NULL CHECK (kind IN ('admonition', 'warning', 'revocation_proposal', 'return_to_prison_proposal')),
    alert_id    BIGINT REFERENCES alerts (id),
    decided_on  DATE NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  BIGINT NOT NULL REFERENCES users (id)
);
CREATE INDEX sanctions_person ON sanctions (person_id, id);

CREATE TABLE monitoring_orders (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id      BIGINT NOT NULL REFERENCES persons (id),
    ground         TEXT NOT NULL CHECK (ground IN ('prohibition_order_breach', 'left_without_approval',
                       'refused_to_report_after_warning', 'public_security_penalty', 'revocation_pending')),
    reason         TEXT NOT NULL,
    starts_at      TIMESTAMPTZ NOT NULL,
    ends_at        TIMESTAMPTZ NOT NULL,
    renewals       BIGINT NOT NULL DEFAULT 0,
    lifted_at      TIMESTAMPTZ,
    lift_reason    TEXT,
    expiry_warned  BOOLEAN NOT NULL DEFAULT FALSE,
    expired_at     TIMESTAMPTZ,
    approved_by    BIGINT NOT NULL REFERENCES users (id),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX monitoring_orders_person ON monitoring_orders (person_id, id);
-- One order in force per person: renewing extends it.
CREATE UNIQUE INDEX monitoring_orders_one_active ON monitoring_orders (person_id)
    WHERE lifted_at IS NULL AND expired_at IS NULL;

-- Each background job runs on one instance at a time: the holder of its lease.
CREATE TABLE job_leases (
    job          TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_run_at  TIMESTAMPTZ
);
