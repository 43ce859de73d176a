//! The test clock's controls: routed only when `clock = "test"`, so that scenario runs can move
//! time through day-long deadlines in seconds. Never present in production.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::http::extract::AppJson;
use crate::http::problem::Problem;
use crate::scheduler::Report;
use crate::Error;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    /// Jump to this time.
    pub set: Option<DateTime<Utc>>,
    /// Then move forward this many seconds (0–31,622,400).
    pub advance_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ClockNow {
    pub now: DateTime<Utc>,
    /// What the background jobs did at the new time (absent when another instance holds the
    /// scheduler's lease).
    pub jobs: Option<Report>,
}

/// Sets or advances the test clock (test mode only), then runs the background jobs at the new
/// time, so that a scenario sees deadlines pass at once.
#[utoipa::path(post, path = "/api/v1/test/clock", tag = "test", request_body = ClockChange,
    responses((status = 200, body = ClockNow)))]
pub async fn change(
    State(app): State<Arc<App>>,
    AppJson(body): AppJson<ClockChange>,
) -> Result<Json<ClockNow>, Problem> {
    let clock = app.test_clock.as_ref().ok_or(Error::NotFound("route"))?;
    if let Some(secs) = body.advance_seconds {
        if !(0..=366 * 86_400).contains(&secs) {
            return Err(Error::invalid("advance_seconds", "must be between 0 and 31622400").into());
        }
    }
    if let Some(t) = body.set {
        clock.set(t);
    }
    if let Some(secs) = body.advance_seconds {
        clock.advance(chrono::Duration::seconds(secs));
    }
    let jobs = crate::scheduler::run_once(&app).await?;
    Ok(Json(ClockNow { now: app.clock.now(), jobs }))
}
