//! Monitoring orders (电子定位装置): the county head approves, renews and lifts them.

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
use crate::supervision::{Lifting, MonitoringOrder, MonitoringOrderRequest, Renewal};

/// Approves electronic monitoring for a person: one of the five legal grounds, at most three
/// months. County heads only; one order in force per person.
#[utoipa::path(post, path = "/api/v1/persons/{id}/monitoring-orders", tag = "supervision",
    params(("id" = i64, Path)), request_body = MonitoringOrderRequest, security(("bearer" = [])), responses(
    (status = 201, body = MonitoringOrder),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    AppJson(body): AppJson<MonitoringOrderRequest>,
) -> Result<(StatusCode, Json<MonitoringOrder>), Problem> {
    let now = app.clock.now();
    body.validate(now, &app.settings.policy)?;
    Ok((StatusCode::CREATED, Json(app.store.create_order(&actor, person_id, &body, now).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<MonitoringOrder>,
}

/// A person's monitoring orders, oldest first.
#[utoipa::path(get, path = "/api/v1/persons/{id}/monitoring-orders", tag = "supervision",
    params(("id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, body = OrderList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
) -> Result<Json<OrderList>, Problem> {
    app.store.person(&actor, person_id).await?.ok_or(crate::Error::NotFound("person"))?;
    Ok(Json(OrderList { orders: app.store.orders(&actor, person_id, app.clock.now()).await? }))
}

/// Renews an order in force after assessment, by at most three months beyond its current end.
#[utoipa::path(post, path = "/api/v1/persons/{id}/monitoring-orders/{order}/renew", tag = "supervision",
    params(("id" = i64, Path), ("order" = i64, Path)), request_body = Renewal, security(("bearer" = [])), responses(
    (status = 200, body = MonitoringOrder),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn renew(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath((person_id, order)): AppPath<(i64, i64)>,
    AppJson(body): AppJson<Renewal>,
) -> Result<Json<MonitoringOrder>, Problem> {
    check_text("reason", &body.reason, 1000)?;
    let now = app.clock.now();
    Ok(Json(app.store.renew_order(&actor, person_id, order, &body, now, &app.settings.policy).await?))
}

/// Lifts an order early: monitoring is no longer needed.
#[utoipa::path(post, path = "/api/v1/persons/{id}/monitoring-orders/{order}/lift", tag = "supervision",
    params(("id" = i64, Path), ("order" = i64, Path)), request_body = Lifting, security(("bearer" = [])), responses(
    (status = 200, body = MonitoringOrder),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn lift(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath((person_id, order)): AppPath<(i64, i64)>,
    AppJson(body): AppJson<Lifting>,
) -> Result<Json<MonitoringOrder>, Problem> {
    check_text("reason", &body.reason, 1000)?;
    Ok(Json(app.store.lift_order(&actor, person_id, order, &body, app.clock.now()).await?))
}
