//! Webhook subscriptions: an office, a county or city agency, or a procuratorate has the events
//! of its own scope pushed to its own systems.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::http::extract::{AppJson, AppPath, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::oversight::{NewWebhook, Webhook, WebhookRequest};

/// Subscribes the caller's agency and scope, to a host the operator allows (setting
/// `oversight.webhook_hosts`). The answer carries the signing `secret`, shown this once.
/// Events are POSTed one at a time in `seq` order, signed (`Liandong-Signature`), and retried
/// with backoff until the receiver answers 2xx.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "oversight", request_body = WebhookRequest,
    params(("Idempotency-Key" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 201, body = Webhook),
    (status = 200, description = "a retry: the subscription already made", body = Webhook),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<WebhookRequest>,
) -> Result<(StatusCode, Json<Webhook>), Problem> {
    let url = body.validate(&app.settings.oversight.webhook_hosts)?;
    let new = NewWebhook::new(url, &body)?;
    let idem = idem.bind(&actor.label(), "POST /api/v1/webhooks", &body);
    let created = app.store.create_webhook(&actor, &new, idem.as_ref(), app.clock.now()).await?;
    let status = if created.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(created.value)))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// The caller's scope's live subscriptions and how delivery stands.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "oversight", security(("bearer" = [])), responses(
    (status = 200, body = WebhookList),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(State(app): State<Arc<App>>, Staff(actor): Staff) -> Result<Json<WebhookList>, Problem> {
    Ok(Json(WebhookList { webhooks: app.store.webhooks(&actor).await? }))
}

/// One subscription with its latest delivery attempts.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "oversight", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Webhook),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn read(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Webhook>, Problem> {
    Ok(Json(app.store.webhook(&actor, id).await?))
}

/// Ends a subscription: nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "oversight", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Webhook),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn delete(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Webhook>, Problem> {
    Ok(Json(app.store.delete_webhook(&actor, id, app.clock.now()).await?))
}
