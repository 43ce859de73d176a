//! Exclusion zones (禁止令 places): per-person polygons and circles with validity windows, in an
//! R-tree of their own. Entering is judged with the accuracy rule turned around: only a fix whose
//! whole accuracy circle lies inside the zone is evidence of entry.

use chrono::{DateTime, Utc};
use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

use super::area::Placement;
use super::crs::{check_position, distance_m, segment_distance_m, Crs};
use super::pip::EdgeBands;
use crate::{Error, Result};

/// Largest circle radius accepted.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Most positions a zone may have (validating a ring compares every pair of its edges).
const MAX_VERTICES: usize = 2_000;
/// Largest polygon extent accepted, in degrees either way (~100 km).
const MAX_EXTENT_DEG: f64 = 1.0;
/// Where zones may lie: China and its seas.
const CHINA: ([f64; 2], [f64; 2]) = ([73.0, 3.0], [136.0, 54.0]);

pub enum ZoneShape {
    Polygon { shape: MultiPolygon<f64>, bands: EdgeBands },
    Circle { lon: f64, lat: f64, radius_m: f64 },
}

impl std::fmt::Debug for ZoneShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZoneShape::Polygon { shape, .. } => write!(f, "Polygon({} parts)", shape.0.len()),
            ZoneShape::Circle { radius_m, .. } => write!(f, "Circle({radius_m} m)"),
        }
    }
}

/// GeoJSON geometry as a zone is drawn: a Polygon or MultiPolygon, or a Point with a radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "coordinates")]
pub enum ZoneGeometry {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
    Point([f64; 2]),
}

impl ZoneShape {
    /// Validates a drawn zone and converts it to WGS-84. Repairs only what is unambiguous
    /// (repeated consecutive positions); refuses unclosed rings, self-intersections, circles
    /// without a sane radius and zones far from China.
    pub fn parse(geometry: &ZoneGeometry, radius_m: Option<f64>, crs: Crs) -> Result<ZoneShape> {
        let polygons = match geometry {
            ZoneGeometry::Point([lon, lat]) => return circle(*lon, *lat, radius_m, crs),
            ZoneGeometry::Polygon(rings) => vec![rings.clone()],
            ZoneGeometry::MultiPolygon(polygons) => polygons.clone(),
        };
        if radius_m.is_some() {
            return Err(Error::invalid("radius_m", "applies only to a Point"));
        }
        if polygons.is_empty() {
            return Err(Error::invalid("geometry", "has no polygon"));
        }
        let vertices: usize = polygons.iter().flatten().map(Vec::len).sum();
        if vertices > MAX_VERTICES {
            return Err(Error::invalid("geometry", format!("has {vertices} positions; at most {MAX_VERTICES}")));
        }
        let mut parts = Vec::new();
        for (p, rings) in polygons.into_iter().enumerate() {
            if rings.is_empty() {
                return Err(Error::invalid("geometry", format!("polygon {p} has no ring")));
            }
            let mut converted = Vec::new();
            for (r, ring) in rings.into_iter().enumerate() {
                converted.push(ring_to_wgs84(ring, p, r, crs)?);
            }
            let exterior = converted.remove(0);
            parts.push(Polygon::new(exterior, converted));
        }
        let shape = MultiPolygon(parts);
        if let Err(problem) = shape.check_validation() {
            return Err(Error::invalid("geometry", format!("is not a valid polygon: {problem}")));
        }
        let bands = EdgeBands::new(&shape);
        let b = bands.bbox();
        if b.width() > MAX_EXTENT_DEG || b.height() > MAX_EXTENT_DEG {
            return Err(Error::invalid("geometry", "spans more than 1° (about 100 km): draw the places themselves"));
        }
        within_china(b.min().x, b.min().y)?;
        within_china(b.max().x, b.max().y)?;
        Ok(ZoneShape::Polygon { shape, bands })
    }

    /// Signed metres to the zone's edge: negative inside, positive outside.
    pub fn signed_distance_m(&self, lon: f64, lat: f64) -> f64 {
        match self {
            ZoneShape::Circle { lon: cx, lat: cy, radius_m } => distance_m((lon, lat), (*cx, *cy)) - radius_m,
            ZoneShape::Polygon { shape, bands } => {
                let cos = lat.to_radians().cos();
                let mut best = f64::INFINITY;
                EdgeBands::for_each_edge(shape, |a, b| {
                    best = best.min(segment_distance_m((lon, lat), (a.x, a.y), (b.x, b.y), cos));
                });
                if bands.contains(lon, lat) {
                    -best
                } else {
                    best
                }
            }
        }
    }

    fn envelope(&self) -> AABB<[f64; 2]> {
        match self {
            ZoneShape::Circle { lon, lat, radius_m } => {
                let dy = radius_m / 111_194.9;
                let dx = dy / lat.to_radians().cos().max(0.01);
                AABB::from_corners([lon - dx, lat - dy], [lon + dx, lat + dy])
            }
            ZoneShape::Polygon { bands, .. } => {
                let b = bands.bbox();
                AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y])
            }
        }
    }
}

fn circle(lon: f64, lat: f64, radius_m: Option<f64>, crs: Crs) -> Result<ZoneShape> {
    let radius_m = radius_m.ok_or_else(|| Error::invalid("radius_m", "is required for a Point zone"))?;
    if !radius_m.is_finite() || radius_m <= 0.0 || radius_m > MAX_RADIUS_M {
        return Err(Error::invalid("radius_m", format!("must be more than 0 and at most {MAX_RADIUS_M} metres")));
    }
    check_position(lon, lat).map_err(|e| Error::invalid("geometry.coordinates", e.to_string()))?;
    let (lon, lat) = crs.to_wgs84(lon, lat);
    within_china(lon, lat)?;
    Ok(ZoneShape::Circle { lon, lat, radius_m })
}

fn ring_to_wgs84(ring: Vec<[f64; 2]>, p: usize, r: usize, crs: Crs) -> Result<LineString<f64>> {
    let field = "geometry.coordinates";
    let mut coords: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for [lon, lat] in &ring {
        check_position(*lon, *lat).map_err(|e| Error::invalid(field, format!("polygon {p} ring {r}: {e}")))?;
        let (x, y) = crs.to_wgs84(*lon, *lat);
        // A position repeated in a row adds nothing: dropping it is the one repair made.
        if coords.last() != Some(&Coord { x, y }) {
            coords.push(Coord { x, y });
        }
    }
    if ring.first() != ring.last() {
        return Err(Error::invalid(
            field,
            format!("polygon {p} ring {r} is not closed: its last position must repeat its first"),
        ));
    }
    if coords.len() < 4 {
        return Err(Error::invalid(field, format!("polygon {p} ring {r} needs at least 3 distinct positions")));
    }
    Ok(LineString(coords))
}

fn within_china(lon: f64, lat: f64) -> Result<()> {
    let ([x0, y0], [x1, y1]) = CHINA;
    if (x0..=x1).contains(&lon) && (y0..=y1).contains(&lat) {
        Ok(())
    } else {
        Err(Error::invalid("geometry", "lies far outside China: check the coordinate order (lon, lat) and frame"))
    }
}

/// A person's zone with its validity window.
#[derive(Debug)]
pub struct Zone {
    pub id: i64,
    pub person_id: i64,
    pub shape: ZoneShape,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl Zone {
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= at) && self.valid_until.is_none_or(|u| at < u)
    }
}

/// A zone a fix is in or near.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneHit {
    pub zone_id: i64,
    /// `Inside` is evidence of entry; `Uncertain` is near the edge either way.
    pub placement: Placement,
    pub distance_m: f64,
}

/// Every zone of every person, by bounding box.
#[derive(Default)]
pub struct ZoneIndex {
    zones: Vec<Zone>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl ZoneIndex {
    pub fn new(zones: Vec<Zone>) -> Self {
        let boxes = zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let e = z.shape.envelope();
                GeomWithData::new(Rectangle::from_corners(e.lower(), e.upper()), i)
            })
            .collect();
        ZoneIndex { zones, tree: RTree::bulk_load(boxes) }
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The person's zones in force at `at` that the fix is inside of or near.
    pub fn check(&self, person_id: i64, lon: f64, lat: f64, accuracy_m: f64, at: DateTime<Utc>) -> Vec<ZoneHit> {
        if check_position(lon, lat).is_err() || !accuracy_m.is_finite() {
            return Vec::new();
        }
        let dy = accuracy_m.max(0.0) / 111_194.9;
        let dx = dy / lat.to_radians().cos().max(0.01);
        let query = AABB::from_corners([lon - dx, lat - dy], [lon + dx, lat + dy]);
        let mut hits = Vec::new();
        for entry in self.tree.locate_in_envelope_intersecting(&query) {
            let zone = &self.zones[entry.data];
            if zone.person_id != person_id || !zone.in_force(at) {
                continue;
            }
            let d = zone.shape.signed_distance_m(lon, lat);
            let placement = if d.abs() <= accuracy_m {
                Placement::Uncertain
            } else if d < 0.0 {
                Placement::Inside
            } else {
                continue;
            };
            hits.push(ZoneHit { zone_id: zone.id, placement, distance_m: d });
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    const LON: f64 = 114.30;
    const LAT: f64 = 30.60;
    /// About 100 m in latitude.
    const D: f64 = 0.0009;

    fn square(d: f64) -> ZoneGeometry {
        let (x0, y0, x1, y1) = (LON - d, LAT - d, LON + d, LAT + d);
        ZoneGeometry::Polygon(vec![vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]])
    }

    fn field_and_reason(r: Result<ZoneShape>) -> (String, String) {
        match r {
            Err(Error::Invalid { field, reason }) => (field, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn malformed_zones_are_refused_with_the_problem_named() {
        let unclosed =
            ZoneGeometry::Polygon(vec![vec![[LON, LAT], [LON + D, LAT], [LON + D, LAT + D], [LON, LAT + D]]]);
        assert!(field_and_reason(ZoneShape::parse(&unclosed, None, Crs::Wgs84)).1.contains("not closed"));
        let bowtie = ZoneGeometry::Polygon(vec![vec![
            [LON, LAT],
            [LON + D, LAT + D],
            [LON + D, LAT],
            [LON, LAT + D],
            [LON, LAT],
        ]]);
        let (field, reason) = field_and_reason(ZoneShape::parse(&bowtie, None, Crs::Wgs84));
        assert_eq!(field, "geometry");
        assert!(reason.contains("not a valid polygon"), "{reason}");
        for radius in [0.0, -5.0, 60_000.0, f64::NAN] {
            let (field, _) =
                field_and_reason(ZoneShape::parse(&ZoneGeometry::Point([LON, LAT]), Some(radius), Crs::Wgs84));
            assert_eq!(field, "radius_m");
        }
        assert_eq!(
            field_and_reason(ZoneShape::parse(&ZoneGeometry::Point([LON, LAT]), None, Crs::Wgs84)).0,
            "radius_m"
        );
        assert_eq!(field_and_reason(ZoneShape::parse(&square(D), Some(50.0), Crs::Wgs84)).0, "radius_m");
        let paris = ZoneShape::parse(&ZoneGeometry::Point([2.35, 48.85]), Some(100.0), Crs::Wgs84);
        assert!(field_and_reason(paris).1.contains("outside China"));
        let swapped = ZoneShape::parse(&ZoneGeometry::Point([LAT, LON]), Some(100.0), Crs::Wgs84);
        assert!(field_and_reason(swapped).0.starts_with("geometry"));
        let nan = ZoneGeometry::Polygon(vec![vec![[f64::NAN, LAT], [LON + D, LAT], [LON, LAT + D], [f64::NAN, LAT]]]);
        assert!(field_and_reason(ZoneShape::parse(&nan, None, Crs::Wgs84)).1.contains("lon"));
        assert!(field_and_reason(ZoneShape::parse(&square(2.0), None, Crs::Wgs84)).1.contains("1°"));
    }

    #[test]
    fn repeated_positions_are_the_one_repair() {
        let ring = vec![[LON, LAT], [LON + D, LAT], [LON + D, LAT], [LON + D, LAT + D], [LON, LAT + D], [LON, LAT]];
        assert!(ZoneShape::parse(&ZoneGeometry::Polygon(vec![ring]), None, Crs::Wgs84).is_ok());
    }

    #[test]
    fn only_a_fix_whose_accuracy_circle_is_inside_counts_as_entry() {
        let now = Utc::now();
        let circle = ZoneShape::parse(&ZoneGeometry::Point([LON, LAT]), Some(200.0), Crs::Wgs84).unwrap();
        let polygon = ZoneShape::parse(&square(D), None, Crs::Wgs84).unwrap();
        let index = ZoneIndex::new(vec![
            Zone { id: 1, person_id: 7, shape: circle, valid_from: None, valid_until: None },
            Zone {
                id: 2,
                person_id: 7,
                shape: polygon,
                valid_from: Some(now),
                valid_until: Some(now + Duration::days(1)),
            },
            Zone {
                id: 3,
                person_id: 8,
                shape: ZoneShape::parse(&square(D), None, Crs::Wgs84).unwrap(),
                valid_from: None,
                valid_until: None,
            },
        ]);
        let hits = index.check(7, LON, LAT, 10.0, now);
        assert_eq!(hits.len(), 2, "both of person 7's zones; never person 8's");
        assert!(hits.iter().all(|h| h.placement == Placement::Inside && h.distance_m < -80.0));
        // 300 m north: outside the circle by ~100 m; a 150 m accuracy circle reaches in.
        let north = LAT + 3.0 * D;
        assert!(index.check(7, LON, north, 20.0, now).is_empty());
        let near = index.check(7, LON, north, 150.0, now);
        assert_eq!(near.iter().map(|h| (h.zone_id, h.placement)).collect::<Vec<_>>(), [(1, Placement::Uncertain)]);
        // The polygon is in force for one day only.
        let later = index.check(7, LON, LAT, 10.0, now + Duration::days(2));
        assert_eq!(later.iter().map(|h| h.zone_id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn zones_drawn_in_gcj02_are_converted() {
        let (glon, glat) = Crs::Gcj02.from_wgs84(LON, LAT);
        let shape = ZoneShape::parse(&ZoneGeometry::Point([glon, glat]), Some(100.0), Crs::Gcj02).unwrap();
        assert!(shape.signed_distance_m(LON, LAT) < -99.0);
    }
}
