//! The questions an oversight procurator asks every Monday, answered for one jurisdiction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Unresolved alerts by how long ago their episode began.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct AgeBuckets {
    pub under_1h: i64,
    pub under_24h: i64,
    pub under_7d: i64,
    pub over_7d: i64,
}

impl AgeBuckets {
    pub fn add(&mut self, age: chrono::Duration) {
        let bucket = if age < chrono::Duration::hours(1) {
            &mut self.under_1h
        } else if age < chrono::Duration::hours(24) {
            &mut self.under_24h
        } else if age < chrono::Duration::days(7) {
            &mut self.under_7d
        } else {
            &mut self.over_7d
        };
        *bucket += 1;
    }
}

/// Decisions taken in the period at one level.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct Approvals {
    pub approved: i64,
    pub rejected: i64,
    /// Approved although the procuratorate's opinion opposed.
    pub against_opinion: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    /// The jurisdiction: the procurator's county or city.
    pub scope: String,
    pub at: DateTime<Utc>,
    /// Start of the period that the counts of late acknowledgements and decisions cover.
    pub since: DateTime<Utc>,
    /// Alerts not yet resolved (open or acknowledged), by age.
    pub open_alerts: AgeBuckets,
    /// Unresolved alerts by kind.
    pub open_alerts_by_kind: BTreeMap<String, i64>,
    /// Unresolved alerts whose acknowledgement deadline passed without one.
    pub unacknowledged_past_deadline: i64,
    /// Alerts raised in the period that were acknowledged after their deadline.
    pub acknowledged_late: i64,
    /// Decisions on applications in the period, by the level that decided.
    pub approvals_by_level: BTreeMap<String, Approvals>,
    /// Consultations not yet answered, and how many of them are past their deadline.
    pub consultations_pending: i64,
    pub consultations_overdue: i64,
    /// Opinions awaiting the agency's reply, and how many of them are past their deadline.
    pub opinions_unanswered: i64,
    pub opinions_overdue: i64,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn ages_fall_in_the_bucket_that_starts_at_their_bound() {
        let mut b = AgeBuckets::default();
        for age in [Duration::minutes(59), Duration::hours(1), Duration::hours(23), Duration::days(7)] {
            b.add(age);
        }
        assert_eq!(b, AgeBuckets { under_1h: 1, under_24h: 2, under_7d: 0, over_7d: 1 });
    }
}
