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

/// A free text a user must give: 1 to `max` characters once trimmed, with no control
/// characters but line breaks and tabs (PostgreSQL refuses NUL; others only hide text).
pub fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    let n = value.trim().chars().count();
    if n == 0 || n > max {
        return Err(Error::invalid(field, format!("must be 1–{max} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database migration"))
    }
}

/// The field a deserialisation error is about: its path, and for a missing field the name in
/// backticks below that path (an unknown field's path already ends with its name).
pub fn field_of(path: &str, message: &str) -> String {
    let missing = message.starts_with("missing field").then(|| message.split('`').nth(1)).flatten();
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (p, Some(name)) => format!("{p}.{name}"),
        (p, None) => p.to_owned(),
    }
}

/// Deserialises one JSON value (an element of a batch), naming the field at fault.
pub fn parse_json_value<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        Error::invalid(field_of(&path, &message), message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_bounded_and_free_of_control_characters() {
        assert!(check_text("note", "第一行\n第二行\t完", 20).is_ok());
        for bad in ["", "   ", "a\0b", "bell\u{7}", &"x".repeat(21)] {
            assert!(check_text("note", bad, 20).unwrap_err().to_string().starts_with("note:"), "{bad:?}");
        }
    }
}
