//! Alerts as both agencies see them, their lifecycle words, acknowledgement deadlines and the
//! sanction an episode points to (domain.md §3 "Sanctions follow episodes").

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AlertKind, Evidence};
use crate::register::Category;
use crate::settings::Policy;

text_enum! {
    /// open → acknowledged → resolved.
    pub enum AlertStatus {
        Open = "open",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

text_enum! {
    /// How an officer closed an alert.
    pub enum Disposition {
        FalseAlarm = "false_alarm",
        /// There was a good reason (e.g. an emergency), recorded in the note.
        Justified = "justified",
        /// 训诫
        Admonition = "admonition",
        /// 警告
        Warning = "warning",
        /// Passed up for revocation or return to prison.
        Escalated = "escalated",
    }
}

text_enum! {
    /// What an officer imposed or proposed (domain.md §3).
    pub enum SanctionKind {
        /// 训诫
        Admonition = "admonition",
        /// 警告
        Warning = "warning",
        /// A proposal to revoke probation or parole.
        RevocationProposal = "revocation_proposal",
        /// A proposal to return a temporary-release person to prison (收监).
        ReturnToPrisonProposal = "return_to_prison_proposal",
    }
}

/// One alert: one episode of one kind for one person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alert {
    pub id: i64,
    pub person_id: i64,
    pub kind: AlertKind,
    pub status: AlertStatus,
    /// Raised from evidence that arrived late (an offline backlog): the episode is history.
    pub retrospective: bool,
    /// When the episode began, by position time.
    pub opened_at: DateTime<Utc>,
    /// When the episode ended (back inside, in contact again…); absent while it runs.
    pub episode_ended_at: Option<DateTime<Utc>>,
    /// When the service raised the alert.
    pub raised_at: DateTime<Utc>,
    pub evidence: Evidence,
    pub ack_due_at: DateTime<Utc>,
    /// When the acknowledgement deadline passed unmet.
    pub ack_missed_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<i64>,
    pub disposition: Option<Disposition>,
    pub note: Option<String>,
    /// Suppressed (e.g. a hospital stay) until then: no deadline runs, new episodes of the kind
    /// are raised already suppressed. Visible to the procuratorate like everything else.
    pub suppressed_until: Option<DateTime<Utc>>,
    pub suppress_reason: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub person_id: Option<i64>,
    pub status: Option<AlertStatus>,
    pub kind: Option<AlertKind>,
    /// Page: alerts with a smaller id than this (newest first).
    pub before: Option<i64>,
    pub limit: i64,
}

/// When an alert raised at `raised_at` must be acknowledged.
pub fn ack_deadline(kind: AlertKind, raised_at: DateTime<Utc>, policy: &Policy) -> DateTime<Utc> {
    let minutes = if kind.urgent() { policy.ack_urgent_minutes } else { policy.ack_other_minutes };
    raised_at + Duration::minutes(minutes.into())
}

/// An episode of lost contact or late registration, measured on its own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Episode {
    pub alert_id: i64,
    pub kind: AlertKind,
    pub from: DateTime<Utc>,
    /// Absent while the episode runs.
    pub until: Option<DateTime<Utc>>,
    /// Length so far, in whole days.
    pub days: i64,
    /// What the rules point to for an episode this long in this category.
    pub points_to: Option<SanctionKind>,
}

impl Episode {
    pub fn new(alert: &Alert, category: Category, now: DateTime<Utc>, policy: &Policy) -> Episode {
        let length = alert.episode_ended_at.unwrap_or(now) - alert.opened_at;
        Episode {
            alert_id: alert.id,
            kind: alert.kind,
            from: alert.opened_at,
            until: alert.episode_ended_at,
            days: length.num_days(),
            points_to: pointed_sanction(category, length, policy),
        }
    }
}

/// ≤ 10 days: admonition; > 10 days: warning; > 1 month: a revocation proposal (probation,
/// parole) or return to prison (temporary release); control has neither, so a warning.
pub fn pointed_sanction(category: Category, length: Duration, policy: &Policy) -> Option<SanctionKind> {
    if length <= Duration::zero() {
        return None;
    }
    let days = |d: u32| Duration::days(d.into());
    Some(if length > days(policy.revocation_after_days) {
        match category {
            Category::Probation | Category::Parole => SanctionKind::RevocationProposal,
            Category::TemporaryRelease => SanctionKind::ReturnToPrisonProposal,
            Category::Control => SanctionKind::Warning,
        }
    } else if length > days(policy.admonition_max_days) {
        SanctionKind::Warning
    } else {
        SanctionKind::Admonition
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_point_to_sanctions_by_length_and_category() {
        let p = Policy::default();
        let d = Duration::days;
        assert_eq!(pointed_sanction(Category::Probation, d(10), &p), Some(SanctionKind::Admonition));
        assert_eq!(pointed_sanction(Category::Probation, d(10) + Duration::hours(1), &p), Some(SanctionKind::Warning));
        assert_eq!(pointed_sanction(Category::Parole, d(31), &p), Some(SanctionKind::RevocationProposal));
        assert_eq!(pointed_sanction(Category::TemporaryRelease, d(31), &p), Some(SanctionKind::ReturnToPrisonProposal));
        assert_eq!(pointed_sanction(Category::Control, d(31), &p), Some(SanctionKind::Warning));
        assert_eq!(pointed_sanction(Category::Control, Duration::zero(), &p), None);
    }

    #[test]
    fn urgent_kinds_must_be_acknowledged_within_half_an_hour() {
        let p = Policy::default();
        let t = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(ack_deadline(AlertKind::UnapprovedAbsence, t, &p) - t, Duration::minutes(30));
        assert_eq!(ack_deadline(AlertKind::DeviceTamper, t, &p) - t, Duration::minutes(30));
        assert_eq!(ack_deadline(AlertKind::LostContact, t, &p) - t, Duration::hours(4));
    }
}
