//! Allowed areas: a set of counties, the part of their boundaries that faces the outside (shared
//! borders between members are not an edge of the area), and the accuracy rule: a fix whose
//! accuracy circle still reaches across the edge is `uncertain`, not evidence.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rstar::primitives::Line;
use rstar::RTree;
use serde::Serialize;

use super::crs::{check_position, distance_m, segment_distance_m};
use super::{CountyId, Geofences};
use crate::{Error, Result};

/// Metres per degree of latitude (mean Earth radius): converts the local projection to metres.
const M_PER_DEG: f64 = 111_194.9;
/// How far beside an edge to look when deciding whether it faces the outside (~1 m).
const PROBE_DEG: f64 = 1e-5;
/// Widest gap left between neighbours by the simplification of the national data (≈100 m).
const GAP_M: f64 = 150.0;

pub struct Area {
    /// Member counties, sorted.
    pub members: Vec<CountyId>,
    /// `cos(latitude)` at the area's centre: x is stored as `lon * cos` so that nearest-edge
    /// queries see (nearly) metric distances.
    cos_lat: f64,
    edges: RTree<Line<[f64; 2]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Inside, and the accuracy circle does not reach the edge.
    Inside,
    /// The accuracy circle crosses the edge: neither evidence of presence nor of absence.
    Uncertain,
    /// Outside, with the whole accuracy circle outside.
    Outside,
}

/// Where a fix stands against an area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub county: Option<CountyId>,
    pub placement: Placement,
    /// Signed distance to the area's edge in metres: negative inside, positive outside.
    pub distance_m: f64,
}

impl Area {
    pub(super) fn build(engine: &Geofences, members: Vec<CountyId>) -> Area {
        let is_member = |lon: f64, lat: f64| engine.locate(lon, lat).is_some_and(|c| members.binary_search(&c).is_ok());
        let (mut lat_sum, mut n) = (0.0f64, 0.0f64);
        for &m in &members {
            let b = engine.county(m).bands.bbox();
            lat_sum += (b.min().y + b.max().y) / 2.0;
            n += 1.0;
        }
        let cos_lat = (lat_sum / n.max(1.0)).to_radians().cos();
        let mut lines = Vec::new();
        for &m in &members {
            super::pip::EdgeBands::for_each_edge(&engine.county(m).shape, |a, b| {
                let (dx, dy) = (b.x - a.x, b.y - a.y);
                let len = (dx * dx + dy * dy).sqrt();
                if len == 0.0 {
                    return;
                }
                // Probe both sides of the edge's midpoint: an edge with members on both sides is
                // an inner border.
                let (mx, my) = ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
                let (nx, ny) = (-dy / len * PROBE_DEG, dx / len * PROBE_DEG);
                if !(is_member(mx + nx, my + ny) && is_member(mx - nx, my - ny)) {
                    lines.push(Line::new([a.x * cos_lat, a.y], [b.x * cos_lat, b.y]));
                }
            });
        }
        Area { members, cos_lat, edges: RTree::bulk_load(lines) }
    }

    pub fn contains_county(&self, county: CountyId) -> bool {
        self.members.binary_search(&county).is_ok()
    }

    /// Metres from a WGS-84 position (finite: see `judge`) to the nearest outer edge of the area.
    fn edge_distance_m(&self, lon: f64, lat: f64) -> f64 {
        let q = [lon * self.cos_lat, lat];
        // The projection is nearly metric; check a few nearest candidates exactly.
        self.edges
            .nearest_neighbor_iter_with_distance_2(&q)
            .take(4)
            .map(|(line, _)| {
                let p = line.nearest_point(&q);
                distance_m((lon, lat), (p[0] / self.cos_lat, p[1]))
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Judges a fix with its accuracy radius against this area. A position that is not finite
    /// is refused rather than judged.
    pub fn judge(&self, engine: &Geofences, lon: f64, lat: f64, accuracy_m: f64) -> Result<Judgement> {
        check_position(lon, lat)?;
        if !accuracy_m.is_finite() || accuracy_m < 0.0 {
            return Err(Error::invalid("accuracy_m", "must be a finite number of metres, 0 or more"));
        }
        let county = engine.locate(lon, lat);
        // Where boundaries from different sources overlap, another county may win `locate`
        // although a member's polygon holds the point too.
        let inside = county.is_some_and(|c| self.contains_county(c))
            || self.members.iter().any(|&m| engine.county(m).bands.contains(lon, lat));
        let distance = self.edge_distance_m(lon, lat);
        // Simplified neighbours leave thin gaps between them; a fix in no county at all but within
        // a gap's width of a member is no evidence either way.
        let in_gap = !inside && county.is_none() && self.near_member(engine, lon, lat, GAP_M);
        let placement = match (inside, in_gap || distance <= accuracy_m) {
            (_, true) => Placement::Uncertain,
            (true, false) => Placement::Inside,
            (false, false) => Placement::Outside,
        };
        Ok(Judgement { county, placement, distance_m: if inside { -distance } else { distance } })
    }

    /// Whether some member's boundary passes within `metres` of the position.
    fn near_member(&self, engine: &Geofences, lon: f64, lat: f64, metres: f64) -> bool {
        let (dy, cos) = (metres / M_PER_DEG, lat.to_radians().cos());
        let dx = dy / cos.max(0.01);
        self.members.iter().any(|&m| {
            let county = engine.county(m);
            let b = county.bands.bbox();
            if lon < b.min().x - dx || lon > b.max().x + dx || lat < b.min().y - dy || lat > b.max().y + dy {
                return false;
            }
            let mut near = false;
            super::pip::EdgeBands::for_each_edge(&county.shape, |a, b| {
                near = near || segment_distance_m((lon, lat), (a.x, a.y), (b.x, b.y), cos) <= metres;
            });
            near
        })
    }

    /// Rough size of the edge index, for reports.
    pub fn outer_edges(&self) -> usize {
        self.edges.size()
    }

    /// Degrees of latitude that `metres` spans (for callers sizing search boxes).
    pub fn degrees(metres: f64) -> f64 {
        metres / M_PER_DEG
    }
}

impl PartialEq for Area {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl std::fmt::Debug for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Area").field("members", &self.members).field("outer_edges", &self.edges.size()).finish()
    }
}

/// Extra counties open for a time window (an approved trip's destinations).
#[derive(Debug, Clone)]
pub struct Extra {
    pub counties: Vec<CountyId>,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Where a person may be: the residence area plus the destinations of active permits.
#[derive(Debug, Clone)]
pub struct Allowance {
    pub base: Arc<Area>,
    pub extras: Vec<Extra>,
}

impl Allowance {
    /// The area in force at `at`.
    pub fn area_at(&self, engine: &Geofences, at: DateTime<Utc>) -> Arc<Area> {
        let active: Vec<&Extra> = self.extras.iter().filter(|e| e.from <= at && at < e.until).collect();
        if active.is_empty() {
            return self.base.clone();
        }
        let mut members = self.base.members.clone();
        members.extend(active.iter().flat_map(|e| e.counties.iter().copied()));
        engine.area(members)
    }
}
