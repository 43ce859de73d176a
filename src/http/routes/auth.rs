//! Logging in, changing one's password, and exchanging a device key for a device token.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{DeviceToken, LoginToken};
use crate::http::extract::{AppJson, Staff};
use crate::http::problem::Problem;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Staff login. Repeated failures lock the user name for a while (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login, responses(
    (status = 200, body = LoginToken),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
pub async fn login(State(app): State<Arc<App>>, AppJson(body): AppJson<Login>) -> Result<Json<LoginToken>, Problem> {
    Ok(Json(app.auth.login(body.username.trim(), &body.password).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 12 characters.
    pub new_password: String,
}

/// Changes the caller's password. Every earlier token of the user stops working; the answer
/// carries a fresh one.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    security(("bearer" = [])), responses(
    (status = 200, body = LoginToken),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn change_password(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppJson(body): AppJson<PasswordChange>,
) -> Result<Json<LoginToken>, Problem> {
    Ok(Json(app.auth.change_password(&actor, &body.current_password, &body.new_password).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceLogin {
    pub device_id: i64,
    pub device_key: String,
}

/// Exchanges a device's id and key for a device token bound to its person.
#[utoipa::path(post, path = "/api/v1/auth/device", tag = "auth", request_body = DeviceLogin, responses(
    (status = 200, body = DeviceToken),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn device_token(
    State(app): State<Arc<App>>,
    AppJson(body): AppJson<DeviceLogin>,
) -> Result<Json<DeviceToken>, Problem> {
    Ok(Json(app.auth.device_token(body.device_id, &body.device_key).await?))
}
