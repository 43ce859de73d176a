-- Position fixes as the device sent them (lon, lat, crs) and in WGS-84, with what the geofence
-- engine made of them. A fix is one per (person, client fix id, position time).
CREATE TABLE fixes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id        BIGINT NOT NULL REFERENCES persons (id),
    device_id        BIGINT NOT NULL REFERENCES devices (id),
    client_id        TEXT NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    lon              DOUBLE PRECISION NOT NULL,
    lat              DOUBLE PRECISION NOT NULL,
    crs              TEXT NOT NULL,
    wgs_lon          DOUBLE PRECISION NOT NULL,
    wgs_lat          DOUBLE PRECISION NOT NULL,
    accuracy_m       DOUBLE PRECISION NOT NULL,
    adcode           TEXT,
    placement        TEXT NOT NULL CHECK (placement IN ('inside', 'uncertain', 'outside')),
    edge_distance_m  DOUBLE PRECISION NOT NULL,
    UNIQUE (person_id, client_id, at)
);
CREATE INDEX fixes_person_at ON fixes (person_id, at);
