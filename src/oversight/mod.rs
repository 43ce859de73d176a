//! The oversight log (法律监督): every change the procuratorate must see, appended inside the
//! transaction of the change itself, numbered by a global gapless `seq` and chained per county
//! with SHA-256 so that an edited, removed or reordered event is detected.
//!
//! Events carry ids, adcodes, dates and place names — never coordinates, names or keys.

mod chain;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use chain::{canonical_json, event_hash, verify, Broken, Verifier, VerifyReport, GENESIS};

/// What happened. The string forms are part of the published log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OfficeCreated,
    UserCreated,
    UserDisabled,
    UserPasswordChanged,
    PersonEnrolled,
    PersonRegistered,
    DeviceEnrolled,
    DeviceRevoked,
    ZoneCreated,
    TrackRead,
    AlertOpened,
    AlertEvidenceAdded,
    AlertEpisodeEnded,
    AlertAcknowledged,
    AlertAckDeadlineMissed,
    AlertResolved,
    AlertSuppressed,
    CheckinRequested,
    CheckinAnswered,
    SupervisionEnded,
    SanctionRecorded,
    MonitoringOrderCreated,
    MonitoringOrderRenewed,
    MonitoringOrderLifted,
    MonitoringOrderExpired,
    FixesPurged,
    TravelSubmitted,
    TravelCancelled,
    TravelDecided,
    TravelArrived,
    TravelReturned,
    ConsultationAsked,
    OpinionGiven,
    HearingScheduled,
    HearingHeld,
    ExtensionRequested,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OfficeCreated => "office.created",
            EventKind::UserCreated => "user.created",
            EventKind::UserDisabled => "user.disabled",
            EventKind::UserPasswordChanged => "user.password_changed",
            EventKind::PersonEnrolled => "person.enrolled",
            EventKind::PersonRegistered => "person.registered",
            EventKind::DeviceEnrolled => "device.enrolled",
            EventKind::DeviceRevoked => "device.revoked",
            EventKind::ZoneCreated => "zone.created",
            EventKind::TrackRead => "track.read",
            EventKind::AlertOpened => "alert.opened",
            EventKind::AlertEvidenceAdded => "alert.evidence_added",
            EventKind::AlertEpisodeEnded => "alert.episode_ended",
            EventKind::AlertAcknowledged => "alert.acknowledged",
            EventKind::AlertAckDeadlineMissed => "alert.ack_deadline_missed",
            EventKind::AlertResolved => "alert.resolved",
            EventKind::AlertSuppressed => "alert.suppressed",
            EventKind::CheckinRequested => "checkin.requested",
            EventKind::CheckinAnswered => "checkin.answered",
            EventKind::SupervisionEnded => "person.supervision_ended",
            EventKind::SanctionRecorded => "sanction.recorded",
            EventKind::MonitoringOrderCreated => "monitoring_order.created",
            EventKind::MonitoringOrderRenewed => "monitoring_order.renewed",
            EventKind::MonitoringOrderLifted => "monitoring_order.lifted",
            EventKind::MonitoringOrderExpired => "monitoring_order.expired",
            EventKind::FixesPurged => "fixes.purged",
            EventKind::TravelSubmitted => "travel.submitted",
            EventKind::TravelCancelled => "travel.cancelled",
            EventKind::TravelDecided => "travel.decided",
            EventKind::TravelArrived => "travel.arrived",
            EventKind::TravelReturned => "travel.returned",
            EventKind::ConsultationAsked => "travel.consultation_asked",
            EventKind::OpinionGiven => "travel.opinion_given",
            EventKind::HearingScheduled => "travel.hearing_scheduled",
            EventKind::HearingHeld => "travel.hearing_held",
            EventKind::ExtensionRequested => "travel.extension_requested",
        }
    }
}

/// An event about to be appended: the store adds `seq`, `at` and the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    /// The chain it belongs to: the person's county, or the acting office's or user's.
    pub county: String,
    pub person_id: Option<i64>,
    /// `user:ID`, `device:ID`, `cli` or `system`.
    pub actor: String,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(kind: EventKind, county: &str, actor: impl Into<String>, data: serde_json::Value) -> Self {
        NewEvent { kind, county: county.to_owned(), person_id: None, actor: actor.into(), data }
    }

    pub fn about(mut self, person_id: i64) -> Self {
        self.person_id = Some(person_id);
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub county: String,
    pub person_id: Option<i64>,
    pub actor: String,
    /// The canonical JSON text that was hashed.
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Seals a new event as number `seq` of the log, following `prev_hash` in its county chain.
    pub fn seal(new: &NewEvent, seq: i64, at: DateTime<Utc>, prev_hash: &str) -> Event {
        let data = canonical_json(&new.data);
        let mut event = Event {
            seq,
            at,
            kind: new.kind.as_str().to_owned(),
            county: new.county.clone(),
            person_id: new.person_id,
            actor: new.actor.clone(),
            data,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        event.hash = event_hash(&event);
        event
    }
}
