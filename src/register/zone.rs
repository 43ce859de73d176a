//! Exclusion zones of a person (禁止令: bars, school surroundings, a victim's home…): what an
//! officer draws, checked by the geofence engine, kept as drawn.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::check_text;
use crate::geofence::{Crs, ZoneGeometry, ZoneShape};
use crate::{Error, Result};

/// An officer's drawing of a place the person must not enter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneRequest {
    /// What the place is, as the order names it.
    pub name: String,
    /// The legal basis: the prohibition order (禁止令) and its clause.
    pub basis: String,
    /// GeoJSON Polygon or MultiPolygon, or a Point with `radius_m`.
    pub geometry: ZoneGeometry,
    /// Radius of a Point zone, in metres (at most 50 km).
    pub radius_m: Option<f64>,
    /// The frame the geometry is drawn in.
    #[serde(default)]
    pub crs: Crs,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl ZoneRequest {
    /// Checks the drawing; returns the kind of shape (`circle` or `polygon`).
    pub fn validate(&self) -> Result<&'static str> {
        check_text("name", &self.name, 100)?;
        check_text("basis", &self.basis, 200)?;
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until <= from {
                return Err(Error::invalid("valid_until", "must be after valid_from"));
            }
        }
        Ok(match ZoneShape::parse(&self.geometry, self.radius_m, self.crs)? {
            ZoneShape::Circle { .. } => "circle",
            ZoneShape::Polygon { .. } => "polygon",
        })
    }
}

/// A stored zone, as drawn.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Zone {
    pub id: i64,
    pub person_id: i64,
    pub name: String,
    pub basis: String,
    pub geometry: ZoneGeometry,
    pub radius_m: Option<f64>,
    pub crs: Crs,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
