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
    /// When supervision ended with the request unanswered.
    pub cancelled_at: Option<DateTime<Utc>>,
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

/// When the next random spot check of a person falls: exponentially distributed with a mean of a
/// week over `per_week` (so checks cannot be predicted from the last one), moved into the day
/// (08:00–20:00 local time). `None` when spot checks are off. `random` is uniform over `u64`.
pub fn next_spot_check(now: DateTime<Utc>, tz: chrono_tz::Tz, per_week: u32, random: u64) -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    if per_week == 0 {
        return None;
    }
    let mean = 7.0 * 86_400.0 / f64::from(per_week);
    // In (0, 1]: never ln(0).
    let u = (random >> 11) as f64 / (1u64 << 53) as f64;
    let delay = (-(1.0 - u).ln() * mean).min(4.0 * mean);
    let at = now + chrono::Duration::seconds(delay as i64 + 60);
    let hour = at.with_timezone(&tz).hour();
    Some(if (8..20).contains(&hour) { at } else { at + chrono::Duration::hours(12) })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    use super::*;

    #[test]
    fn spot_checks_fall_in_the_day_and_average_the_rate() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        assert_eq!(next_spot_check(now, tz, 0, 42), None);
        let mut total = 0.0;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let at = next_spot_check(now, tz, 2, state).unwrap();
            let hour = at.with_timezone(&tz).hour();
            assert!((8..20).contains(&hour), "{at}");
            assert!(at > now);
            total += (at - now).num_seconds() as f64;
        }
        let mean_days = total / 10_000.0 / 86_400.0;
        assert!((3.0..4.5).contains(&mean_days), "two a week: about 3.5 days apart, got {mean_days}");
    }
}
