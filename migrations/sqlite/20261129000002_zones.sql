-- Exclusion zones (禁止令 places), kept as drawn: GeoJSON in the frame it was drawn in.
CREATE TABLE zones (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES persons (id),
    name         TEXT NOT NULL,
    basis        TEXT NOT NULL,
    geometry     TEXT NOT NULL,
    crs          TEXT NOT NULL CHECK (crs IN ('wgs84', 'gcj02', 'bd09')),
    radius_m     REAL,
    valid_from   TEXT,
    valid_until  TEXT,
    created_at   TEXT NOT NULL,
    created_by   INTEGER NOT NULL REFERENCES users (id)
);
CREATE INDEX zones_person ON zones (person_id);
