//! The oversight log (法律监督): every change the procuratorate must see, appended inside the
//! transaction of the change itself, numbered by a global gapless `seq` and chained per county
//! with SHA-256 so that an edited, removed or reordered event is detected.
//!
//! Events carry ids, adcodes, dates and place names — never coordinates, names or keys.

mod chain;
pub mod deliver;
mod jurisdiction;
mod opinion;
mod summary;
mod verify;
pub mod webhook;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use chain::{canonical_json, event_hash, verify, Broken, Verifier, VerifyReport, GENESIS};
pub use jurisdiction::{Jurisdiction, LogPage};
pub use opinion::{
    OpinionFilter, OpinionKind, OpinionRequest, OpinionStatus, OversightOpinion, Reply, ReplyOutcome, Subject,
};
pub use summary::{AgeBuckets, Approvals, Summary};
pub use verify::verify_log;
pub use webhook::{NewWebhook, Webhook, WebhookAttempt, WebhookRequest};

text_enum! {
    /// What happened. The string forms are part of the published log format.
    pub enum EventKind {
        OfficeCreated = "office.created",
        UserCreated = "user.created",
        UserDisabled = "user.disabled",
        UserPasswordChanged = "user.password_changed",
        PersonEnrolled = "person.enrolled",
        PersonRegistered = "person.registered",
        DeviceEnrolled = "device.enrolled",
        DeviceRevoked = "device.revoked",
        ZoneCreated = "zone.created",
        TrackRead = "track.read",
        AlertOpened = "alert.opened",
        AlertEvidenceAdded = "alert.evidence_added",
        AlertEpisodeEnded = "alert.episode_ended",
        AlertAcknowledged = "alert.acknowledged",
        AlertAckDeadlineMissed = "alert.ack_deadline_missed",
        AlertResolved = "alert.resolved",
        AlertSuppressed = "alert.suppressed",
        CheckinRequested = "checkin.requested",
        CheckinAnswered = "checkin.answered",
        SupervisionEnded = "person.supervision_ended",
        SanctionRecorded = "sanction.recorded",
        MonitoringOrderCreated = "monitoring_order.created",
        MonitoringOrderRenewed = "monitoring_order.renewed",
        MonitoringOrderLifted = "monitoring_order.lifted",
        MonitoringOrderExpired = "monitoring_order.expired",
        FixesPurged = "fixes.purged",
        TravelSubmitted = "travel.submitted",
        TravelCancelled = "travel.cancelled",
        TravelDecided = "travel.decided",
        TravelArrived = "travel.arrived",
        TravelReturned = "travel.returned",
        ConsultationAsked = "travel.consultation_asked",
        OpinionGiven = "travel.opinion_given",
        HearingScheduled = "travel.hearing_scheduled",
        HearingHeld = "travel.hearing_held",
        ExtensionRequested = "travel.extension_requested",
        OpinionIssued = "opinion.issued",
        OpinionReplied = "opinion.replied",
        OpinionReplyOverdue = "opinion.reply_overdue",
        WebhookCreated = "webhook.created",
        WebhookDeleted = "webhook.deleted",
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
    /// Written exactly as hashed: UTC, six fractional digits.
    #[serde(serialize_with = "as_hashed")]
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

fn as_hashed<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&chain::hashed_time(at))
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
