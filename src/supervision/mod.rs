//! The supervision loop (domain.md §4): each person's state, judged fix by fix in position-time
//! order, and the alerts it raises. An alert stands for one *episode*: it opens with the first
//! confirming evidence, new evidence joins it, and it ends when the person is back (inside, in
//! contact…); a resolved alert stays closed for the rest of its episode.
//!
//! `step` is pure: the store loads a person's tracking and open episodes inside the writer's
//! transaction, calls it, and writes what it says in the same transaction.

mod alert;
mod case;
mod monitoring;
mod step;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use alert::{ack_deadline, pointed_sanction, Alert, AlertFilter, AlertStatus, Disposition, Episode, SanctionKind};
pub use case::{next_spot_check, CheckinRequest, EndReason, Ending, Sanction, SanctionRequest, SilentPeriod};
pub use monitoring::{latest_end, Ground, Lifting, MonitoringOrder, MonitoringOrderRequest, OrderStatus, Renewal};
pub use step::{step, Step};

use crate::geofence::{Placement, ZoneHit};
use crate::register::SupervisionState;

text_enum! {
    /// Alert kinds (domain.md §4).
    pub enum AlertKind {
        /// 不假外出: confirmed outside the allowed area without permission.
        UnapprovedAbsence = "unapproved_absence",
        /// Inside a place a prohibition order (禁止令) bars.
        ExclusionZoneEntry = "exclusion_zone_entry",
        /// 脱管: no fix from a device within its interval.
        LostContact = "lost_contact",
        /// A check-in request not answered by its deadline.
        MissedCheckin = "missed_checkin",
        /// 漏管: not reported in by the registration deadline.
        MissedRegistration = "missed_registration",
        /// Still away after an approved trip ended.
        OverdueReturn = "overdue_return",
        /// A tag's strap or case was opened.
        DeviceTamper = "device_tamper",
        LowBattery = "low_battery",
        /// A monitoring order ends soon: renew or lift it.
        MonitoringOrderExpiring = "monitoring_order_expiring",
    }
}

impl AlertKind {
    /// Kinds whose acknowledgement deadline is the urgent one.
    pub fn urgent(self) -> bool {
        matches!(self, AlertKind::UnapprovedAbsence | AlertKind::ExclusionZoneEntry | AlertKind::DeviceTamper)
    }
}

/// A fix as evidence: where (place, adcode, distance), never coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceFix {
    /// The device's id for the fix.
    pub id: String,
    pub at: DateTime<Utc>,
    pub adcode: Option<String>,
    pub place: Option<String>,
    /// Metres beyond the allowed area's edge (negative: inside), or into a zone.
    pub distance_m: f64,
    pub accuracy_m: f64,
}

/// What an alert rests on. Only the fields of its kind are present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<EvidenceFix>,
    /// Exclusion zones entered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin_request_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_order_id: Option<i64>,
    /// The travel application (an overdue return's trip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<i64>,
    /// Since when: the last fix before silence, the registration deadline, the request time…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Most fixes kept as one alert's evidence: the first ones and each new place after them.
pub const MAX_EVIDENCE_FIXES: usize = 20;

/// How a travel permit bears on a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermitUse {
    /// Inside a destination of a permit in force (outside the residence area).
    AtDestination { application_id: i64 },
    /// Outside both, on a trip's first or last day (or within the grace after it): on the way,
    /// not absent.
    InTransit { application_id: i64 },
    /// Outside after a trip and its grace ended: being away is `overdue_return`, not absence.
    Overdue { application_id: i64 },
}

/// One stored fix as the state machine sees it.
#[derive(Debug, Clone)]
pub struct Observation {
    pub id: String,
    pub at: DateTime<Utc>,
    pub device_id: i64,
    pub placement: Placement,
    pub distance_m: f64,
    pub accuracy_m: f64,
    pub adcode: Option<String>,
    pub place: Option<String>,
    pub zones: Vec<ZoneHit>,
    pub permit: Option<PermitUse>,
}

impl Observation {
    pub fn evidence(&self) -> EvidenceFix {
        EvidenceFix {
            id: self.id.clone(),
            at: self.at,
            adcode: self.adcode.clone(),
            place: self.place.clone(),
            distance_m: (self.distance_m * 10.0).round() / 10.0,
            accuracy_m: self.accuracy_m,
        }
    }
}

/// Fixes outside in a row, not yet (or just) confirming an absence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutsideRun {
    pub since: Option<DateTime<Utc>>,
    /// The newest fix of the run.
    #[serde(default)]
    pub last: Option<DateTime<Utc>>,
    pub fixes: u32,
    pub evidence: Vec<EvidenceFix>,
}

/// Where a person's judgement stands after their newest fix (kept on the person's row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracking {
    pub state: Option<SupervisionState>,
    /// Position time of the newest fix judged: older fixes arriving later are late.
    pub last_fix_at: Option<DateTime<Utc>>,
    pub outside: OutsideRun,
}

/// A change to the alerts of one person, in the order `step` decided them.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A new episode; `ended_at` when it also ended within the same upload (a backlog).
    Open {
        kind: AlertKind,
        opened_at: DateTime<Utc>,
        ended_at: Option<DateTime<Utc>>,
        retrospective: bool,
        evidence: Evidence,
    },
    /// Material new evidence for the running episode: the whole evidence as it now stands.
    Join { kind: AlertKind, evidence: Evidence },
    /// The running episode ended.
    End { kind: AlertKind, at: DateTime<Utc> },
    /// Late fixes (older than the newest judged) that prove an absence or a zone entry on their
    /// own: an alert unless one of the kind already covers the time, or the episode ran on into
    /// the current one.
    Past { kind: AlertKind, from: DateTime<Utc>, until: DateTime<Utc>, evidence: Evidence },
}
