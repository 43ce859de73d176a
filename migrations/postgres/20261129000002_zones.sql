-- Exclusion zones (禁止令 places), kept as drawn: GeoJSON in the frame it was drawn in.
CREATE TABLE zones (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    BIGINT NOT NULL REFERENCES persons (id),
    name         TEXT NOT NULL,
    basis        TEXT NOT NULL,
    geometry     TEXT NOT NULL,
    crs          TEXT NOT NULL CHECK (crs IN ('wgs84', 'gcj02', 'bd09')),
    radius_m     DOUBLE PRECISION,
    valid_from   TIMESTAMPTZ,
    valid_until  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   BIGINT NOT NULL REFERENCES users (id)
);
CREATE INDEX zones_person ON zones (person_id);
