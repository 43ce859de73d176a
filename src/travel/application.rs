//! Travel applications as persons and officers submit them, and as both agencies read them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Level, Routing, Warning};
use crate::auth::Role;
use crate::error::check_text;
use crate::{Error, Result};

text_enum! {
    pub enum TravelKind {
        /// A trip (外出) on given dates.
        Trip = "trip",
        /// Regular cross-city activity (经常性跨市县活动) for up to six months.
        Regular = "regular",
    }
}

text_enum! {
    pub enum ReasonCategory {
        Medical = "medical",
        Study = "study",
        Litigation = "litigation",
        Family = "family",
        Work = "work",
        Other = "other",
    }
}

text_enum! {
    pub enum ApplicationStatus {
        Pending = "pending",
        /// A permit: the destinations join the person's allowed area for the dates.
        Approved = "approved",
        Rejected = "rejected",
        Cancelled = "cancelled",
    }
}

/// What a phone (for its own person) or an officer submits.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// Required from officers; a phone applies for its own person only.
    pub person_id: Option<i64>,
    pub kind: TravelKind,
    /// County- or city-level adcodes (a city opens all its county-level units).
    pub destinations: Vec<String>,
    pub starts_on: NaiveDate,
    /// For regular activity, the end of the validity asked for (at most six months).
    pub ends_on: NaiveDate,
    pub reason_category: ReasonCategory,
    pub reason: String,
    /// Regular activity: the typical schedule and frequency ("every Tuesday, to the client").
    pub schedule: Option<String>,
}

impl ApplicationRequest {
    /// Checks what needs no database: texts and the number of destinations.
    pub fn validate(&self) -> Result<()> {
        if self.destinations.is_empty() || self.destinations.len() > 20 {
            return Err(Error::invalid("destinations", "must name 1–20 administrative units"));
        }
        check_text("reason", &self.reason, 500)?;
        match (&self.kind, &self.schedule) {
            (TravelKind::Regular, None) => Err(Error::invalid("schedule", "is required for regular activity")),
            (_, Some(s)) => check_text("schedule", s, 500),
            (TravelKind::Trip, None) => Ok(()),
        }
    }
}

/// A validated application about to be stored.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub person_id: i64,
    pub request: ApplicationRequest,
    pub routing: Routing,
    /// `user:ID` or `device:ID`.
    pub submitted_by: String,
    /// For an extension: the approved trip it extends.
    pub extends: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Application {
    pub id: i64,
    pub person_id: i64,
    pub kind: TravelKind,
    pub destinations: Vec<String>,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub reason_category: ReasonCategory,
    pub reason: String,
    pub schedule: Option<String>,
    pub status: ApplicationStatus,
    /// The level that decides, by the rules.
    pub decided_by: Level,
    pub notify_procuratorate: bool,
    /// The rule that routed the application.
    pub rule: String,
    pub warnings: Vec<Warning>,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decider: Option<i64>,
    pub decision_reason: Option<String>,
    /// The person's reports: arrived at the destination, back home.
    pub arrived_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    /// An extension request: the approved trip it would extend (approval moves that trip's end).
    pub extends: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// The new last day.
    pub ends_on: NaiveDate,
    pub reason: String,
}

text_enum! {
    /// What a person reports during an approved trip.
    pub enum TripReport {
        Arrival = "arrival",
        Return = "return",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub approve: bool,
    pub reason: String,
}

/// The level an officer's role decides at; roles that decide nothing have none.
pub fn level_of(role: Role) -> Option<Level> {
    match role {
        Role::OfficeOfficer => Some(Level::Office),
        Role::CountyOfficer => Some(Level::County),
        Role::CityOfficer => Some(Level::City),
        Role::CountyHead | Role::Procurator | Role::Admin => None,
    }
}

/// Which applications to list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub person_id: Option<i64>,
    pub status: Option<ApplicationStatus>,
    /// Pending ones this level decides (the inbox).
    pub awaiting: Option<Level>,
    /// Approved regular permits ending between today and this day (for renewal).
    pub expiring_by: Option<NaiveDate>,
    pub before: Option<i64>,
    pub limit: i64,
}
