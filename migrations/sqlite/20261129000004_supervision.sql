-- The supervision loop: each person's running judgement, alerts (one per episode), check-in
-- requests, tag events, sanctions, monitoring orders and the scheduler's leases.

-- Where the person's newest fix left the judgement, and the current run of fixes outside.
ALTER TABLE persons ADD COLUMN last_fix_at TEXT;
ALTER TABLE persons ADD COLUMN outside_run TEXT;
ALTER TABLE persons ADD COLUMN ended_reason TEXT;
-- When the next random spot check (a check-in request from the schedule) is due.
ALTER TABLE persons ADD COLUMN next_spot_check_at TEXT;
CREATE INDEX persons_spot_check ON persons (next_spot_check_at) WHERE ended_on IS NULL;

-- Lost contact is judged per device: a phone and a tag have different intervals.
ALTER TABLE devices ADD COLUMN last_fix_at TEXT;

-- A zone is judged against the person's last position once it comes into force (a person who
-- does not move is inside a zone drawn around them).
ALTER TABLE zones ADD COLUMN rejudged INTEGER NOT NULL DEFAULT 0;

-- Periods without any fix longer than policy.unreachable_warn_hours (local rules warn on them).
CREATE TABLE silent_periods (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    from_at     TEXT NOT NULL,
    until_at    TEXT NOT NULL
);
CREATE INDEX silent_periods_person ON silent_periods (person_id, id);

-- Fixes get an `evidence` flag (alert evidence outlives the retention period), and one index
-- (person, position time, client id) serves both uniqueness and time-ordered reads: a second
-- index cost a fifth of every insert. SQLite changes a table constraint by rebuilding the table.
CREATE TABLE fixes_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id        INTEGER NOT NULL REFERENCES persons (id),
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    client_id        TEXT NOT NULL,
    at               TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    lon              REAL NOT NULL,
    lat              REAL NOT NULL,
    crs              TEXT NOT NULL,
    wgs_lon          REAL NOT NULL,
    wgs_lat          REAL NOT NULL,
    accuracy_m       REAL NOT NULL,
    adcode           TEXT,
    placement        TEXT NOT NULL CHECK (placement IN ('inside', 'uncertain', 'outside')),
    edge_distance_m  REAL NOT NULL,
    evidence         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (person_id, at, client_id)
);
INSERT INTO fixes_new (id, person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat,
                       accuracy_m, adcode, placement, edge_distance_m)
    SELECT id, person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat, accuracy_m, adcode,
           placement, edge_distance_m FROM fixes;
DROP TABLE fixes;
ALTER TABLE fixes_new RENAME TO fixes;

CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id         INTEGER NOT NULL REFERENCES persons (id),
    kind              TEXT NOT NULL CHECK (kind IN ('unapproved_absence', 'exclusion_zone_entry', 'lost_contact',
                          'missed_checkin', 'missed_registration', 'overdue_return', 'device_tamper', 'low_battery',
                          'monitoring_order_expiring')),
    status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    retrospective     INTEGER NOT NULL DEFAULT 0,
    -- When the episode began (position time of its first evidence) and ended (back in contact,
    -- back inside, …); NULL while it runs.
    opened_at         TEXT NOT NULL,
    episode_ended_at  TEXT,
    raised_at         TEXT NOT NULL,
    device_id         INTEGER REFERENCES devices (id),
    evidence          TEXT NOT NULL,
    ack_due_at        TEXT NOT NULL,
    ack_missed_at     TEXT,
    acknowledged_at   TEXT,
    acknowledged_by   INTEGER REFERENCES users (id),
    resolved_at       TEXT,
    resolved_by       INTEGER REFERENCES users (id),
    disposition       TEXT CHECK (disposition IN ('false_alarm', 'justified', 'admonition', 'warning', 'escalated')),
    note              TEXT,
    suppressed_until  TEXT,
    suppress_reason   TEXT,
    suppressed_by     INTEGER REFERENCES users (id)
);
-- One alert per person and kind while its episode runs: new evidence joins it.
CREATE UNIQUE INDEX alerts_one_per_episode ON alerts (person_id, kind) WHERE episode_ended_at IS NULL;
CREATE INDEX alerts_person ON alerts (person_id, id);
CREATE INDEX alerts_ack_due ON alerts (ack_due_at) WHERE status = 'open' AND ack_missed_at IS NULL;

CREATE TABLE checkin_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id     INTEGER NOT NULL REFERENCES persons (id),
    requested_at  TEXT NOT NULL,
    deadline      TEXT NOT NULL,
    requested_by  INTEGER REFERENCES users (id),
    answered_at   TEXT,
    answer_fix    TEXT,
    missed_at     TEXT,
    -- Supervision ended before the request was answered.
    cancelled_at  TEXT
);
CREATE INDEX checkin_requests_person ON checkin_requests (person_id, id);
CREATE INDEX checkin_requests_pending ON checkin_requests (deadline)
    WHERE answered_at IS NULL AND missed_at IS NULL AND cancelled_at IS NULL;

-- Tamper, strap and battery events from tags, once per (device, client id, time).
CREATE TABLE device_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    device_id   INTEGER NOT NULL REFERENCES devices (id),
    client_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('strap_opened', 'strap_closed', 'case_opened', 'battery_low', 'battery_ok')),
    battery_pct INTEGER,
    UNIQUE (device_id, client_id, at)
);

CREATE TABLE sanctions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    kind        TEXT NOT NULL CHECK (kind IN ('admonition', 'warning', 'revocation_proposal', 'return_to_prison_proposal')),
    alert_id    INTEGER REFERENCES alerts (id),
    decided_on  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users (id)
);
CREATE INDEX sanctions_person ON sanctions (person_id, id);

CREATE TABLE monitoring_orders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id      INTEGER NOT NULL REFERENCES persons (id),
    ground         TEXT NOT NULL CHECK (ground IN ('prohibition_order_breach', 'left_without_approval',
                       'refused_to_report_after_warning', 'public_security_penalty', 'revocation_pending')),
    reason         TEXT NOT NULL,
    starts_at      TEXT NOT NULL,
    ends_at        TEXT NOT NULL,
    renewals       INTEGER NOT NULL DEFAULT 0,
    lifted_at      TEXT,
    lift_reason    TEXT,
    expiry_warned  INTEGER NOT NULL DEFAULT 0,
    expired_at     TEXT,
    approved_by    INTEGER NOT NULL REFERENCES users (id),
    created_at     TEXT NOT NULL
);
CREATE INDEX monitoring_orders_person ON monitoring_orders (person_id, id);
-- One order in force per person: renewing extends it.
CREATE UNIQUE INDEX monitoring_orders_one_active ON monitoring_orders (person_id)
    WHERE lifted_at IS NULL AND expired_at IS NULL;

-- Each background job runs on one instance at a time: the holder of its lease.
CREATE TABLE job_leases (
    job          TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_run_at  TEXT
);
