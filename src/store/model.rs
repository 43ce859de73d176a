//! What the store hands back besides domain types: accounts, devices and idempotency records.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::{DeviceKind, Role, Scope};

/// A staff user as created from the command line.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub scope: Scope,
}

/// A staff account, with the scope resolved (an office scope carries the office's county).
#[derive(Clone)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    pub password_hash: String,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Tokens carry the epoch they were issued in; bumping it ends them all.
    pub token_epoch: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: i64,
    pub person_id: i64,
    pub kind: DeviceKind,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Position time of the newest fix from this device.
    pub last_fix_at: Option<DateTime<Utc>>,
}

/// What authenticating a device needs.
#[derive(Clone)]
pub struct DeviceCredentials {
    pub device: Device,
    /// SHA-256 (hex) of the device key.
    pub key_hash: String,
    /// The county the device's person belongs to.
    pub county: String,
}

/// A client's `Idempotency-Key` for a create that it may retry.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Who sent it: keys of different users never collide.
    pub principal: String,
    pub key: String,
    /// SHA-256 of the request, so that a key reused for another request is refused.
    pub request_hash: String,
}

/// The outcome of an idempotent create.
#[derive(Debug, Clone)]
pub struct Enrolled<T> {
    pub value: T,
    /// True when this answers a retry: nothing new was stored.
    pub replayed: bool,
}

/// How long a user name is locked after a number of failures in a row.
pub trait LockRule: Send + Sync {
    fn lock_for(&self, failures: u32) -> Option<std::time::Duration>;
    /// Failures older than this no longer count.
    fn forget_after(&self) -> std::time::Duration;
}

impl LockRule for crate::auth::password::Lockout {
    fn lock_for(&self, failures: u32) -> Option<std::time::Duration> {
        crate::auth::password::Lockout::lock_for(self, failures)
    }

    fn forget_after(&self) -> std::time::Duration {
        self.max
    }
}

/// Whether a login attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    Allowed,
    Locked { until: DateTime<Utc> },
}

/// Which fixes of a person to read, and why.
#[derive(Debug, Clone)]
pub struct TrackQuery {
    pub person_id: i64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub purpose: String,
    /// Continue after this (position time, row) of the previous page.
    pub after: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// A fix as a track read returns it: WGS-84, with what the device sent beside it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackFix {
    #[serde(skip)]
    pub row: i64,
    /// The device's id for the fix.
    pub id: String,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
    pub accuracy_m: f64,
    pub adcode: Option<String>,
    pub placement: String,
    pub edge_distance_m: f64,
    /// The position as sent: `lon`, `lat` and `crs`.
    #[schema(value_type = Object)]
    pub sent: serde_json::Value,
}

/// A person's newest position, for re-judging it when a rule changes.
#[derive(Debug, Clone)]
pub struct LastPosition {
    pub id: String,
    pub at: DateTime<Utc>,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
    pub accuracy_m: f64,
    pub adcode: Option<String>,
}

/// An approved trip that has ended, for the overdue-return job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndedTrip {
    pub application_id: i64,
    pub person_id: i64,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: chrono::NaiveDate,
    pub residence_adcode: String,
}
