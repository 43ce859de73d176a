//! Tamper, strap and battery events from electronic location devices (tags).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::parse_json_value;
use crate::supervision::AlertKind;
use crate::{Error, Result};

text_enum! {
    /// What a tag reports besides its position.
    pub enum TagEventKind {
        StrapOpened = "strap_opened",
        StrapClosed = "strap_closed",
        /// The case was opened or broken.
        CaseOpened = "case_opened",
        BatteryLow = "battery_low",
        /// Charged again.
        BatteryOk = "battery_ok",
    }
}

impl TagEventKind {
    /// The event that ends an episode of `kind`.
    pub fn closing(kind: AlertKind) -> TagEventKind {
        match kind {
            AlertKind::LowBattery => TagEventKind::BatteryOk,
            _ => TagEventKind::StrapClosed,
        }
    }

    /// The alert this event starts (`true`) or ends (`false`) an episode of.
    pub fn episode(self) -> (AlertKind, bool) {
        match self {
            TagEventKind::StrapOpened | TagEventKind::CaseOpened => (AlertKind::DeviceTamper, true),
            TagEventKind::StrapClosed => (AlertKind::DeviceTamper, false),
            TagEventKind::BatteryLow => (AlertKind::LowBattery, true),
            TagEventKind::BatteryOk => (AlertKind::LowBattery, false),
        }
    }
}

/// One event as a tag sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagEventInput {
    /// The tag's own id for the event (1–64 characters): with `at`, what makes a retry a duplicate.
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: TagEventKind,
    /// Battery charge, 0–100.
    pub battery_pct: Option<u8>,
}

/// A validated event.
#[derive(Debug, Clone)]
pub struct TagEvent {
    pub client_id: String,
    pub at: DateTime<Utc>,
    pub kind: TagEventKind,
    pub battery_pct: Option<u8>,
}

pub fn judge_event(value: &serde_json::Value, now: DateTime<Utc>, future_tolerance: Duration) -> Result<TagEvent> {
    let input: TagEventInput = parse_json_value(value)?;
    super::check_id_and_time(&input.id, input.at, now, future_tolerance)?;
    if input.battery_pct.is_some_and(|p| p > 100) {
        return Err(Error::invalid("battery_pct", "must be between 0 and 100"));
    }
    Ok(TagEvent {
        client_id: input.id,
        at: crate::clock::truncate_micros(input.at),
        kind: input.kind,
        battery_pct: input.battery_pct,
    })
}
