//! The domain and storage error: what went wrong, in terms the HTTP layer can map to one status.

use std::time::Duration;

/// Result with the service's error by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that can never succeed as sent: names the offending field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Nothing there, or nothing the caller may know is there.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request collides with the current state (a duplicate, a second registration…).
    #[error("{0}")]
    Conflict(String),
    /// Credentials missing, wrong, expired or revoked.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the role may not do this (where existence is not secret).
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed attempts; try again later.
    #[error("too many attempts")]
    Throttled { retry_after: Duration },
    /// Too much work in flight; retry shortly.
    #[error("busy")]
    Busy,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), reason: reason.into() }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database migration"))
    }
}
