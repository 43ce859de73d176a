//! Alerts in the caller's scope, and what officers do with them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::check_text;
use crate::http::extract::{AppJson, AppPath, AppQuery, Staff};
use crate::http::problem::Problem;
use crate::supervision::{Alert, AlertFilter, AlertKind, AlertStatus, Disposition};
use crate::{Error, Result};

/// Longest suppression: a hospital stay is reviewed at least this often.
const MAX_SUPPRESSION_DAYS: i64 = 90;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub person_id: Option<i64>,
    pub status: Option<AlertStatus>,
    pub kind: Option<AlertKind>,
    /// The `next` of the previous page.
    pub before: Option<i64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertPage {
    /// Newest first.
    pub alerts: Vec<Alert>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// Alerts of the persons in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery), security(("bearer" = [])),
    responses(
    (status = 200, body = AlertPage),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<AlertQuery>,
) -> Result<Json<AlertPage>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::malformed(Some("limit".into()), "limit: must be between 1 and 500"));
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(Problem::malformed(Some("before".into()), "before: must be a positive alert id"));
    }
    let filter = AlertFilter { person_id: q.person_id, status: q.status, kind: q.kind, before: q.before, limit };
    let alerts = app.store.alerts(&actor, &filter).await?;
    let next = (alerts.len() as i64 == limit).then(|| alerts.last().map(|a| a.id)).flatten();
    Ok(Json(AlertPage { alerts, next }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// What the officer is doing about it.
    pub note: Option<String>,
}

/// Acknowledges an alert: an officer has taken it on. Late acknowledgements are marked late in
/// the oversight log.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts", params(("id" = i64, Path)),
    request_body = Acknowledgement, security(("bearer" = [])), responses(
    (status = 200, body = Alert),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn acknowledge(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Acknowledgement>,
) -> Result<Json<Alert>, Problem> {
    if let Some(note) = &body.note {
        check_text("note", note, 1000)?;
    }
    let note = body.note.as_deref().map(str::trim);
    Ok(Json(app.store.acknowledge_alert(&actor, id, note, app.clock.now()).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub disposition: Disposition,
    /// Why: what happened and what was done.
    pub note: String,
}

/// Resolves an alert with a disposition. The episode may still run: a resolved alert stays
/// closed until the person is back, and a new episode opens a new alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", params(("id" = i64, Path)),
    request_body = Resolution, security(("bearer" = [])), responses(
    (status = 200, body = Alert),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn resolve(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Resolution>,
) -> Result<Json<Alert>, Problem> {
    check_text("note", &body.note, 1000)?;
    Ok(Json(app.store.resolve_alert(&actor, id, body.disposition, body.note.trim(), app.clock.now()).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Why (e.g. a hospital stay): the procuratorate sees it.
    pub reason: String,
    /// When the suppression ends (at most 90 days ahead).
    pub until: DateTime<Utc>,
}

/// Suppresses an alert until a time: its acknowledgement deadline stops counting, and new
/// episodes of its kind for the person are raised already suppressed until then.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/suppress", tag = "alerts", params(("id" = i64, Path)),
    request_body = Suppression, security(("bearer" = [])), responses(
    (status = 200, body = Alert),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn suppress(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Suppression>,
) -> Result<Json<Alert>, Problem> {
    check_text("reason", &body.reason, 200)?;
    let now = app.clock.now();
    if body.until <= now || body.until > now + Duration::days(MAX_SUPPRESSION_DAYS) {
        return Err(Error::invalid("until", format!("must lie in the next {MAX_SUPPRESSION_DAYS} days")).into());
    }
    Ok(Json(app.store.suppress_alert(&actor, id, body.reason.trim(), body.until, now).await?))
}
