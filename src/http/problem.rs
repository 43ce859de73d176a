//! RFC 9457 problem details: every error the API answers, in one format with a stable `type`
//! per kind of problem. Server-side failures are logged here and never described to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Error;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, for bad input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extension members (RFC 9457 §3.2), such as the per-fix reasons of a refused upload.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:liandong:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            extensions: None,
            retry_after: None,
        }
    }

    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.get_or_insert_with(Default::default).insert(name.to_owned(), value);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Input that is well-formed but cannot be accepted.
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        let field = field.into();
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input", format!("{field}: {reason}"))
            .with_field(field)
    }

    /// A request that cannot be read at all.
    pub fn malformed(field: Option<String>, detail: impl Into<String>) -> Self {
        let p = Problem::new(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request", detail);
        match field {
            Some(f) => p.with_field(f),
            None => p,
        }
    }

    pub fn unavailable(retry_after_secs: u64) -> Self {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the service is busy; retry shortly",
        );
        p.retry_after = Some(retry_after_secs);
        p
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { field, reason } => Problem::invalid(field, reason),
            Error::NotFound(what) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("no such {what} in your scope"))
            }
            Error::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            Error::Unauthorized(detail) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Not authenticated", detail)
            }
            Error::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail),
            Error::Throttled { retry_after } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "throttled",
                    "Too many attempts",
                    "too many failed attempts; wait before trying again",
                );
                p.retry_after = Some(retry_after.as_secs().max(1));
                p
            }
            Error::Busy => Problem::unavailable(1),
            Error::Database(sqlx::Error::PoolTimedOut) => {
                tracing::warn!("database pool exhausted");
                Problem::unavailable(1)
            }
            Error::Database(e) => internal(&e),
            Error::Internal(e) => internal(&*e),
        }
    }
}

fn internal(e: &dyn std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "internal error");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the service failed to handle the request; it has been logged",
    )
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
