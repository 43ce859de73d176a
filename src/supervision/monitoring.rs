//! Monitoring orders (电子定位装置): a tag is the exception, needs one of five legal grounds and
//! the county head's approval, for at most three months a period.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::check_text;
use crate::settings::Policy;
use crate::{Error, Result};

text_enum! {
    /// The five legal grounds for electronic monitoring.
    pub enum Ground {
        /// Breached a court prohibition order (禁止令).
        ProhibitionOrderBreach = "prohibition_order_breach",
        /// Left the city or county without approval.
        LeftWithoutApproval = "left_without_approval",
        /// Refused to report and was warned (警告).
        RefusedToReportAfterWarning = "refused_to_report_after_warning",
        /// Received a public-security penalty (治安管理处罚).
        PublicSecurityPenalty = "public_security_penalty",
        /// Revocation or return to prison is about to be proposed.
        RevocationPending = "revocation_pending",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringOrderRequest {
    pub ground: Ground,
    /// The facts behind the ground.
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    /// At most `policy.monitoring_order_max_months` after `starts_at`.
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// The new end: after the current one, at most the maximum period beyond it.
    pub ends_at: DateTime<Utc>,
    /// The assessment that supports continuing.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifting {
    pub reason: String,
}

text_enum! {
    pub enum OrderStatus {
        /// Approved, not yet started.
        Pending = "pending",
        Active = "active",
        Lifted = "lifted",
        Expired = "expired",
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringOrder {
    pub id: i64,
    pub person_id: i64,
    pub ground: Ground,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub renewals: i64,
    pub status: OrderStatus,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lift_reason: Option<String>,
    pub expired_at: Option<DateTime<Utc>>,
    pub approved_by: i64,
    pub created_at: DateTime<Utc>,
}

/// The longest a period starting at `from` may run.
pub fn latest_end(from: DateTime<Utc>, policy: &Policy) -> DateTime<Utc> {
    from.checked_add_months(Months::new(policy.monitoring_order_max_months)).unwrap_or(from)
}

impl MonitoringOrderRequest {
    pub fn validate(&self, now: DateTime<Utc>, policy: &Policy) -> Result<()> {
        check_text("reason", &self.reason, 1000)?;
        if self.starts_at < now - chrono::Duration::days(1) {
            return Err(Error::invalid("starts_at", "must not lie more than a day in the past"));
        }
        if self.ends_at <= self.starts_at {
            return Err(Error::invalid("ends_at", "must be after starts_at"));
        }
        if self.ends_at > latest_end(self.starts_at, policy) {
            let months = policy.monitoring_order_max_months;
            return Err(Error::invalid("ends_at", format!("a period may last at most {months} months")));
        }
        Ok(())
    }
}
