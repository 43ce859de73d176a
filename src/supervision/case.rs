//! What officers do around the loop: ask for a check-in, record a sanction, end supervision.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SanctionKind;

/// An officer's (or a spot check's) request that the person check in now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckinRequest {
    pub id: i64,
    pub person_id: i64,
    pub requested_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// When a fix answered it, and the device's id for that fix.
    pub answered_at: Option<DateTime<Utc>>,
    pub answer_fix: Option<String>,
    /// When the deadline passed unanswered.
    pub missed_at: Option<DateTime<Utc>>,
}

/// A sanction an officer imposed or proposed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionRequest {
    pub kind: SanctionKind,
    /// The alert (episode) it answers, if any.
    pub alert_id: Option<i64>,
    pub decided_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sanction {
    pub id: i64,
    pub person_id: i64,
    pub kind: SanctionKind,
    pub alert_id: Option<i64>,
    pub decided_on: NaiveDate,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

text_enum! {
    /// Why supervision ended.
    pub enum EndReason {
        /// 期满解除: the term is over.
        Completed = "completed",
        /// Probation or parole revoked (撤销缓刑/假释).
        Revoked = "revoked",
        /// Temporary release ended: returned to prison (收监).
        ReturnedToPrison = "returned_to_prison",
        /// The person died.
        Died = "died",
        Other = "other",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ending {
    pub on: NaiveDate,
    pub reason: EndReason,
    pub note: Option<String>,
}

/// A period without any fix longer than `policy.unreachable_warn_hours`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SilentPeriod {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub hours: f64,
}
