//! The policy numbers of the law and local rules (domain.md §3–4). Provinces publish their own
//! detailed rules, so each one is a setting whose default is the national/Hubei figure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Days after the judgment takes effect (parole: after release) to report in (报到).
    pub registration_days: u32,
    /// Days of notice a trip application should give; later is allowed with a warning.
    pub trip_notice_days: u32,
    /// Longest trip a judicial office may approve (delegated).
    pub trip_office_max_days: u32,
    /// Longest trip the county agency may approve; beyond it the city agency decides.
    pub trip_county_max_days: u32,
    /// Cumulative trip days within the window beyond which the city agency decides.
    pub trip_cumulative_max_days: u32,
    pub trip_cumulative_window_days: u32,
    /// Hours after a trip's end before still being away is `overdue_return`.
    pub return_grace_hours: u32,
    /// Validity of a regular cross-city activity approval.
    pub regular_travel_months: u32,
    /// Interval at which a positioning phone reports.
    pub phone_interval_minutes: u32,
    /// Silence from a phone that is lost contact (脱管).
    pub phone_lost_contact_hours: u32,
    pub tag_interval_seconds: u32,
    pub tag_lost_contact_minutes: u32,
    /// Time to answer a check-in request.
    pub checkin_answer_minutes: u32,
    /// Random spot checks per person and week (0: none), asked between 08:00 and 20:00 local time.
    pub spot_checks_per_week: u32,
    /// Silent periods longer than this are kept as unreachable periods.
    pub unreachable_warn_hours: u32,
    /// Longest electronic-monitoring period, and each renewal.
    pub monitoring_order_max_months: u32,
    /// Episodes up to this many days point to an admonition (训诫), longer ones to a warning (警告).
    pub admonition_max_days: u32,
    /// Episodes longer than this point to a revocation or return-to-prison proposal.
    pub revocation_after_days: u32,
    /// Acknowledgement deadline for absence, exclusion-zone entry and tampering.
    pub ack_urgent_minutes: u32,
    /// Acknowledgement deadline for every other alert.
    pub ack_other_minutes: u32,
    /// Fixes outside, and the time they must span, before an absence is confirmed.
    pub absence_min_fixes: u32,
    pub absence_min_minutes: u32,
    /// One fix this far beyond the edge, accurate to `absence_far_max_accuracy_m`, confirms at once.
    pub absence_far_km: f64,
    pub absence_far_max_accuracy_m: f64,
    /// Fixes stamped further in the future than this are refused.
    pub future_fix_tolerance_minutes: u32,
    /// Evidence arriving this long after its position time opens a retrospective alert.
    pub retrospective_after_minutes: u32,
    /// Days before a monitoring order ends that `monitoring_order_expiring` is raised.
    pub monitoring_expiry_warn_days: u32,
    /// Raw fixes are kept this long after supervision ends (evidence of alerts is kept).
    pub fix_retention_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            registration_days: 10,
            trip_notice_days: 3,
            trip_office_max_days: 7,
            trip_county_max_days: 30,
            trip_cumulative_max_days: 30,
            trip_cumulative_window_days: 60,
            regular_travel_months: 6,
            return_grace_hours: 12,
            phone_interval_minutes: 15,
            phone_lost_contact_hours: 24,
            tag_interval_seconds: 60,
            tag_lost_contact_minutes: 30,
            checkin_answer_minutes: 60,
            spot_checks_per_week: 1,
            unreachable_warn_hours: 3,
            monitoring_order_max_months: 3,
            admonition_max_days: 10,
            revocation_after_days: 30,
            ack_urgent_minutes: 30,
            ack_other_minutes: 240,
            absence_min_fixes: 2,
            absence_min_minutes: 10,
            absence_far_km: 5.0,
            absence_far_max_accuracy_m: 1000.0,
            future_fix_tolerance_minutes: 5,
            retrospective_after_minutes: 30,
            monitoring_expiry_warn_days: 7,
            fix_retention_days: 365,
        }
    }
}

impl Policy {
    pub fn validate(&self) -> anyhow::Result<()> {
        let at_least_one = [
            ("registration_days", self.registration_days),
            ("trip_office_max_days", self.trip_office_max_days),
            ("trip_county_max_days", self.trip_county_max_days),
            ("trip_cumulative_max_days", self.trip_cumulative_max_days),
            ("trip_cumulative_window_days", self.trip_cumulative_window_days),
            ("regular_travel_months", self.regular_travel_months),
            ("phone_interval_minutes", self.phone_interval_minutes),
            ("phone_lost_contact_hours", self.phone_lost_contact_hours),
            ("tag_interval_seconds", self.tag_interval_seconds),
            ("tag_lost_contact_minutes", self.tag_lost_contact_minutes),
            ("checkin_answer_minutes", self.checkin_answer_minutes),
            ("unreachable_warn_hours", self.unreachable_warn_hours),
            ("monitoring_order_max_months", self.monitoring_order_max_months),
            ("admonition_max_days", self.admonition_max_days),
            ("revocation_after_days", self.revocation_after_days),
            ("ack_urgent_minutes", self.ack_urgent_minutes),
            ("ack_other_minutes", self.ack_other_minutes),
            ("absence_min_fixes", self.absence_min_fixes),
            ("retrospective_after_minutes", self.retrospective_after_minutes),
            ("monitoring_expiry_warn_days", self.monitoring_expiry_warn_days),
            ("fix_retention_days", self.fix_retention_days),
        ];
        for (name, value) in at_least_one {
            anyhow::ensure!(value >= 1, "invalid setting policy.{name}: must be at least 1");
        }
        anyhow::ensure!(
            self.trip_office_max_days <= self.trip_county_max_days,
            "invalid setting policy.trip_office_max_days: must not exceed policy.trip_county_max_days"
        );
        anyhow::ensure!(
            self.admonition_max_days <= self.revocation_after_days,
            "invalid setting policy.admonition_max_days: must not exceed policy.revocation_after_days"
        );
        for (name, value) in
            [("absence_far_km", self.absence_far_km), ("absence_far_max_accuracy_m", self.absence_far_max_accuracy_m)]
        {
            anyhow::ensure!(
                value.is_finite() && value > 0.0,
                "invalid setting policy.{name}: must be a positive number"
            );
        }
        Ok(())
    }
}
