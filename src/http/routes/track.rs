//! Reading a person's track: officers and procurators in scope, for a stated purpose, every read
//! recorded in the oversight log.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::http::extract::{AppPath, AppQuery, Staff};
use crate::http::problem::Problem;
use crate::store::{TrackFix, TrackQuery};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrackParams {
    /// Start of the period (position time, RFC 3339); 24 hours before `to` when omitted.
    pub from: Option<DateTime<Utc>>,
    /// End of the period, exclusive; now when omitted.
    pub to: Option<DateTime<Utc>>,
    /// Why the track is read (3–200 characters): recorded with the read.
    pub purpose: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1–5,000 (default 1,000).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Track {
    pub fixes: Vec<TrackFix>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// A person's fixes over a period, in position-time order, in WGS-84 (`crs: wgs84`) with the
/// position as sent beside it. The read, its period and purpose enter the oversight log.
#[utoipa::path(get, path = "/api/v1/persons/{id}/track", tag = "persons", params(("id" = i64, Path), TrackParams),
    security(("bearer" = [])), responses(
    (status = 200, body = Track),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn read(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    AppQuery(p): AppQuery<TrackParams>,
) -> Result<Json<Track>, Problem> {
    let bad = |field: &str, reason: &str| Problem::malformed(Some(field.into()), format!("{field}: {reason}"));
    let purpose = p.purpose.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if !(3..=200).contains(&purpose.chars().count()) {
        return Err(bad("purpose", "say why the track is read (3–200 characters)"));
    }
    if purpose.chars().any(char::is_control) {
        return Err(bad("purpose", "must not contain control characters"));
    }
    let now = app.clock.now();
    let to = p.to.unwrap_or(now);
    let from = p.from.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(bad("from", "must be before to"));
    }
    if to - from > Duration::days(366) {
        return Err(bad("from", "a read covers at most 366 days"));
    }
    let limit = p.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 5000"));
    }
    let after = match &p.after {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| bad("after", "is not a cursor this service gave"))?),
    };
    let query = TrackQuery { person_id, from, to, purpose, after, limit };
    let fixes = app.store.read_track(&actor, &query, now).await?;
    let next = (fixes.len() as i64 == limit)
        .then(|| {
            fixes.last().map(|f| format!("{}~{}", f.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), f.row))
        })
        .flatten();
    Ok(Json(Track { fixes, next }))
}

fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, i64)> {
    let (at, row) = cursor.split_once('~')?;
    Some((DateTime::parse_from_rfc3339(at).ok()?.to_utc(), row.parse().ok()?))
}
