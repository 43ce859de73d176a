-- Position fixes as the device sent them (lon, lat, crs) and in WGS-84, with what the geofence
-- engine made of them. A fix is one per (person, client fix id, position time).
CREATE TABLE fixes (
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
    UNIQUE (person_id, client_id, at)
);
CREATE INDEX fixes_person_at ON fixes (person_id, at);
