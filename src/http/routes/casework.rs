//! Around the loop: check-in requests, sanctions, and ending supervision.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::check_text;
use crate::http::extract::{AppJson, AppPath, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::http::routes::persons::PersonView;
use crate::supervision::{CheckinRequest, Ending, Sanction, SanctionRequest};
use crate::Error;

/// How far back the end of supervision may be recorded.
const MAX_END_BACKDATE_DAYS: u64 = 30;

/// Longest a person may be given to answer a check-in request.
const MAX_DEADLINE_HOURS: i64 = 24;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheckinRequest {
    /// By when the person must answer; `policy.checkin_answer_minutes` from now when omitted.
    pub deadline: Option<DateTime<Utc>>,
}

/// Asks the person to check in now. The next fix from the person's device answers it; no answer
/// by the deadline raises `missed_checkin`.
#[utoipa::path(post, path = "/api/v1/persons/{id}/checkin-requests", tag = "supervision",
    params(("id" = i64, Path)), request_body = NewCheckinRequest, security(("bearer" = [])), responses(
    (status = 201, body = CheckinRequest),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn request_checkin(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    AppJson(body): AppJson<NewCheckinRequest>,
) -> Result<(StatusCode, Json<CheckinRequest>), Problem> {
    let now = app.clock.now();
    let deadline = body.deadline.unwrap_or(now + Duration::minutes(app.settings.policy.checkin_answer_minutes.into()));
    if deadline <= now || deadline > now + Duration::hours(MAX_DEADLINE_HOURS) {
        return Err(Error::invalid("deadline", format!("must lie in the next {MAX_DEADLINE_HOURS} hours")).into());
    }
    let request = app.store.request_checkin(&actor, person_id, deadline, now).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Serialize, ToSchema)]
pub struct CheckinRequestList {
    /// Newest first: pending, answered and missed.
    pub requests: Vec<CheckinRequest>,
}

/// A person's check-in requests and how each ended.
#[utoipa::path(get, path = "/api/v1/persons/{id}/checkin-requests", tag = "supervision",
    params(("id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, body = CheckinRequestList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn checkin_requests(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
) -> Result<Json<CheckinRequestList>, Problem> {
    app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    Ok(Json(CheckinRequestList { requests: app.store.checkin_requests(&actor, person_id).await? }))
}

/// Records a sanction an officer imposed (训诫, 警告) or a proposal made (revocation, return to
/// prison), optionally for the alert whose episode it answers.
#[utoipa::path(post, path = "/api/v1/persons/{id}/sanctions", tag = "supervision", params(("id" = i64, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body = SanctionRequest, security(("bearer" = [])), responses(
    (status = 201, body = Sanction),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn record_sanction(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<SanctionRequest>,
) -> Result<(StatusCode, Json<Sanction>), Problem> {
    check_text("reason", &body.reason, 1000)?;
    if body.decided_on > app.today() {
        return Err(Error::invalid("decided_on", "must not be in the future").into());
    }
    let idem = idem.bind(&actor.label(), &format!("POST /api/v1/persons/{person_id}/sanctions"), &body);
    let recorded = app.store.record_sanction(&actor, person_id, &body, idem.as_ref(), app.clock.now()).await?;
    let status = if recorded.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(recorded.value)))
}

/// Ends supervision (期满解除, revocation, return to prison…): the person's devices stop working,
/// running episodes end, and no alert is raised for the person again.
#[utoipa::path(post, path = "/api/v1/persons/{id}/end", tag = "supervision", params(("id" = i64, Path)),
    request_body = Ending, security(("bearer" = [])), responses(
    (status = 200, body = PersonView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn end(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    AppJson(body): AppJson<Ending>,
) -> Result<Json<PersonView>, Problem> {
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(Error::invalid("note", "must be at most 1000 characters").into());
    }
    let person = app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    // Raw fixes are purged a retention period after this day: a mistyped year must not bring
    // that forward.
    let today = app.today();
    if body.on > today
        || body.on < today - chrono::Days::new(MAX_END_BACKDATE_DAYS)
        || body.on < person.judgment_effective_on
    {
        let detail =
            format!("must lie within the last {MAX_END_BACKDATE_DAYS} days, not before the judgment took effect");
        return Err(Error::invalid("on", detail).into());
    }
    let devices = app.store.devices(&actor, person_id).await?;
    app.store.end_supervision(&actor, person_id, &body, app.clock.now()).await?;
    for device in devices {
        app.forget_device(device.id);
    }
    let person = app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    Ok(Json(PersonView::new(&app, person)))
}
