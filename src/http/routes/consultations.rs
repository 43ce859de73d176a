//! An application's optional steps: consultation with the procuratorate (会商) and hearings
//! (听证会), and the application with both attached.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::check_text;
use crate::http::extract::{AppJson, AppPath, Staff};
use crate::http::problem::Problem;
use crate::travel::{Application, Consultation, ConsultationRequest, Hearing, HearingOutcome, HearingRequest, Opinion};

#[derive(Serialize, ToSchema)]
pub struct ApplicationDetail {
    #[serde(flatten)]
    pub application: Application,
    pub consultations: Vec<Consultation>,
    pub hearings: Vec<Hearing>,
}

/// One application in scope, with its consultations and hearings (both agencies see them).
#[utoipa::path(get, path = "/api/v1/travel-applications/{id}", tag = "travel", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = ApplicationDetail),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn read(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
) -> Result<Json<ApplicationDetail>, Problem> {
    let application = app.store.application(&actor, id).await?;
    let consultations = app.store.consultations(&actor, id, app.clock.now()).await?;
    let hearings = app.store.hearings(&actor, id).await?;
    Ok(Json(ApplicationDetail { application, consultations, hearings }))
}

/// Asks the person's county procuratorate for a written opinion on a pending application, by a
/// deadline; an unanswered consultation past it shows as overdue to both sides.
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/consultation", tag = "travel",
    params(("id" = i64, Path)), request_body = ConsultationRequest, security(("bearer" = [])), responses(
    (status = 201, body = Consultation),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn ask(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<ConsultationRequest>,
) -> Result<(StatusCode, Json<Consultation>), Problem> {
    let now = app.clock.now();
    body.validate(now)?;
    Ok((StatusCode::CREATED, Json(app.store.ask_consultation(&actor, id, &body, now).await?)))
}

/// The procuratorate's opinion: support, oppose or conditional, with its text. Procurators whose
/// jurisdiction covers the person only.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/opinion", tag = "travel", params(("id" = i64, Path)),
    request_body = Opinion, security(("bearer" = [])), responses(
    (status = 200, body = Consultation),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn opinion(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Opinion>,
) -> Result<Json<Consultation>, Problem> {
    check_text("text", &body.text, 2000)?;
    Ok(Json(app.store.give_opinion(&actor, id, &body, app.clock.now()).await?))
}

/// Schedules a hearing on a pending application: time, place and participants.
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/hearing", tag = "travel", params(("id" = i64, Path)),
    request_body = HearingRequest, security(("bearer" = [])), responses(
    (status = 201, body = Hearing),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn schedule_hearing(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<HearingRequest>,
) -> Result<(StatusCode, Json<Hearing>), Problem> {
    body.validate()?;
    Ok((StatusCode::CREATED, Json(app.store.schedule_hearing(&actor, id, &body, app.clock.now()).await?)))
}

/// Records the outcome of the application's hearing.
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/hearing/outcome", tag = "travel",
    params(("id" = i64, Path)), request_body = HearingOutcome, security(("bearer" = [])), responses(
    (status = 200, body = Hearing),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn hearing_outcome(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<HearingOutcome>,
) -> Result<Json<Hearing>, Problem> {
    check_text("outcome", &body.outcome, 2000)?;
    Ok(Json(app.store.record_hearing(&actor, id, &body.outcome, app.clock.now()).await?))
}
