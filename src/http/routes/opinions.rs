//! Procuratorial suggestions (检察建议) and correction notices (纠正意见), and the agency's written
//! replies: both sides list them as open, overdue or answered.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::http::extract::{AppJson, AppPath, AppQuery, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::oversight::{OpinionFilter, OpinionRequest, OversightOpinion, Reply};

/// A procurator's opinion on a person, an alert or an application in its jurisdiction, with the
/// date the agency's written reply is due. Retries with the same `Idempotency-Key` answer the
/// opinion first issued.
#[utoipa::path(post, path = "/api/v1/oversight/opinions", tag = "oversight", request_body = OpinionRequest,
    params(("Idempotency-Key" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 201, body = OversightOpinion),
    (status = 200, description = "a retry: the opinion already issued", body = OversightOpinion),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn issue(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<OpinionRequest>,
) -> Result<(StatusCode, Json<OversightOpinion>), Problem> {
    let now = app.clock.now();
    body.validate(now)?;
    let idem = idem.bind(&actor.label(), "POST /api/v1/oversight/opinions", &body);
    let issued = app.store.issue_opinion(&actor, &body, idem.as_ref(), now).await?;
    let status = if issued.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(issued.value)))
}

#[derive(Serialize, ToSchema)]
pub struct OpinionList {
    /// Earliest reply deadline first.
    pub opinions: Vec<OversightOpinion>,
}

/// Opinions on persons in the caller's scope: open, overdue (unanswered past the deadline) or
/// answered.
#[utoipa::path(get, path = "/api/v1/oversight/opinions", tag = "oversight", params(OpinionFilter),
    security(("bearer" = [])), responses(
    (status = 200, body = OpinionList),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(filter): AppQuery<OpinionFilter>,
) -> Result<Json<OpinionList>, Problem> {
    Ok(Json(OpinionList { opinions: app.store.opinions(&actor, &filter, app.clock.now()).await? }))
}

#[utoipa::path(get, path = "/api/v1/oversight/opinions/{id}", tag = "oversight", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = OversightOpinion),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn read(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
) -> Result<Json<OversightOpinion>, Problem> {
    Ok(Json(app.store.opinion(&actor, id, app.clock.now()).await?))
}

/// The agency's written reply: adopted, partly adopted or not adopted, with what was done and
/// the reasons. County or city officers whose scope covers the person reply; a late reply is
/// accepted and marked late. Sending the same reply again answers the stored one.
#[utoipa::path(post, path = "/api/v1/oversight/opinions/{id}/reply", tag = "oversight",
    params(("id" = i64, Path)), request_body = Reply, security(("bearer" = [])), responses(
    (status = 200, body = OversightOpinion),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn reply(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Reply>,
) -> Result<Json<OversightOpinion>, Problem> {
    body.validate()?;
    Ok(Json(app.store.reply_to_opinion(&actor, id, &body, app.clock.now()).await?))
}
