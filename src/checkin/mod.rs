//! Check-ins: fixes from phones and tags, each judged on its own against the person's allowed
//! area, stored once (a retried upload is recognised), through one group-committing writer.

mod events;
mod permits;
mod writer;
mod zones;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use events::{judge_event, TagEvent, TagEventInput, TagEventKind};
pub use permits::{local_midnight, Permit, PermitCache};
pub use writer::Ingest;
pub use zones::ZoneCache;

use crate::error::parse_json_value;
use crate::geofence::{Allowance, Area, Crs, Geofences, Judgement, Placement, ZoneHit, ZoneIndex};
use crate::register::SupervisionState;
use crate::supervision::PermitUse;
use crate::{Error, Result};

/// Most fixes in one upload (an offline backlog comes in several).
pub const MAX_BATCH: usize = 1000;
/// Accuracy beyond this is no position at all.
const MAX_ACCURACY_M: f64 = 100_000.0;

/// One fix as a device sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixInput {
    /// The device's own id for the fix (1–64 characters): with `at`, what makes a retry a duplicate.
    pub id: String,
    /// Position time (RFC 3339), not the upload time.
    pub at: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    #[serde(default)]
    pub crs: Crs,
}

/// A fix that passed validation, with the engine's judgement.
#[derive(Debug, Clone)]
pub struct Fix {
    pub client_id: String,
    pub at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub crs: Crs,
    pub wgs: (f64, f64),
    pub accuracy_m: f64,
    pub adcode: Option<String>,
    pub placement: Placement,
    pub edge_distance_m: f64,
    /// The name of the county-level unit (for evidence and the phone's answer).
    pub place: Option<String>,
    /// The person's exclusion zones in force that the fix is in or near.
    pub zones: Vec<ZoneHit>,
    /// At a permitted destination, or on the way on a trip's first or last day.
    pub permit: Option<PermitUse>,
}

impl Fix {
    /// Whether a stored fix carries the same position as this one (a true retry). Numbers are
    /// compared to far below what a device can tell apart (about 0.1 mm), not bit for bit: they
    /// pass through the database's decimal parser.
    pub fn same_content(&self, lon: f64, lat: f64, crs: &str, accuracy_m: f64) -> bool {
        let close = |a: f64, b: f64, tolerance: f64| (a - b).abs() <= tolerance;
        close(self.lon, lon, 1e-9)
            && close(self.lat, lat, 1e-9)
            && self.crs.as_str() == crs
            && close(self.accuracy_m, accuracy_m, 1e-6)
    }
}

/// A fix (or tag event) refused, by its place in the upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rejected {
    /// `fixes` or `events`: the list `index` points into.
    pub list: &'static str,
    pub index: usize,
    pub detail: String,
}

/// What a person's fixes are judged against.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub engine: &'a Geofences,
    /// Where the person may be: the residence area, widened by permits in force.
    pub allowance: &'a Allowance,
    pub permits: &'a [Permit],
    /// The person's exclusion zones.
    pub zones: &'a ZoneIndex,
    pub person_id: i64,
    pub now: DateTime<Utc>,
    /// How far in the future a position time may lie (device clocks drift).
    pub future_tolerance: Duration,
}

/// A device's id for a fix or event (1–64 printable characters) and its time: not from the
/// future (position time is what is judged), not before 2000.
pub(crate) fn check_id_and_time(id: &str, at: DateTime<Utc>, now: DateTime<Utc>, tolerance: Duration) -> Result<()> {
    if !(1..=64).contains(&id.chars().count()) || id.chars().any(char::is_control) {
        return Err(Error::invalid("id", "must be 1–64 characters"));
    }
    if at > now + tolerance {
        return Err(Error::invalid("at", "is in the future: positions are judged by their own time"));
    }
    if at.timestamp() < 946_684_800 {
        return Err(Error::invalid("at", "is before 2000"));
    }
    Ok(())
}

/// Validates and judges one fix given as JSON.
pub fn judge(value: &serde_json::Value, rules: &Rules<'_>) -> Result<Fix> {
    let Rules { engine, allowance, permits, zones, person_id, now, future_tolerance } = *rules;
    let input: FixInput = parse_json_value(value)?;
    check_id_and_time(&input.id, input.at, now, future_tolerance)?;
    crate::geofence::crs::check_position(input.lon, input.lat)?;
    if !input.accuracy_m.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&input.accuracy_m) {
        return Err(Error::invalid("accuracy_m", format!("must be between 0 and {MAX_ACCURACY_M} metres")));
    }
    let wgs = input.crs.to_wgs84(input.lon, input.lat);
    let at = crate::clock::truncate_micros(input.at);
    let judgement = allowance.area_at(engine, at).judge(engine, wgs.0, wgs.1, input.accuracy_m)?;
    let permit = permit_use(&judgement, &allowance.base, permits, at);
    let adcode = judgement.county.map(|c| engine.county(c).adcode.clone());
    Ok(Fix {
        client_id: input.id,
        at,
        lon: input.lon,
        lat: input.lat,
        crs: input.crs,
        wgs,
        accuracy_m: input.accuracy_m,
        place: adcode.as_deref().and_then(|a| engine.units().name(a)).map(str::to_owned),
        adcode,
        placement: judgement.placement,
        edge_distance_m: judgement.distance_m,
        zones: zones.check(person_id, wgs.0, wgs.1, input.accuracy_m, at),
        permit,
    })
}

/// Whether a permit explains where a fix is: inside a destination (beyond the residence area),
/// or outside everything on a trip's first or last day.
fn permit_use(judgement: &Judgement, home: &Area, permits: &[Permit], at: DateTime<Utc>) -> Option<PermitUse> {
    match (judgement.placement, judgement.county) {
        (Placement::Inside, Some(county)) if !home.contains_county(county) => permits
            .iter()
            .find(|p| p.in_force(at) && p.counties.contains(&county))
            .map(|p| PermitUse::AtDestination { application_id: p.application_id }),
        (Placement::Outside, _) => {
            permits.iter().find(|p| p.travel_day(at)).map(|p| PermitUse::InTransit { application_id: p.application_id })
        }
        _ => None,
    }
}

/// One device's upload, validated, on its way to the writer.
#[derive(Debug, Clone)]
pub struct Batch {
    pub person_id: i64,
    pub device_id: i64,
    pub received_at: DateTime<Utc>,
    pub fixes: Vec<Fix>,
    /// Tag events (tags only).
    pub events: Vec<TagEvent>,
}

/// What storing an upload did, by position in `Batch::fixes`.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub accepted: usize,
    pub duplicates: usize,
    /// Fixes whose id and time were already stored with another position.
    pub conflicts: Vec<usize>,
    /// Tag events stored, and recognised as retries.
    pub events_accepted: usize,
    pub events_duplicates: usize,
    /// Tag events whose id and time were already stored with other content.
    pub event_conflicts: Vec<usize>,
    /// The person's state after the new fixes (none when nothing new was judged).
    pub state: Option<SupervisionState>,
}
