//! Enrolling and revoking a person's phone or tag.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{new_device_key, DeviceKind};
use crate::http::extract::{AppJson, AppPath, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::store::Device;
use crate::Error;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub kind: DeviceKind,
}

/// The device key is shown here once and never again: the service keeps only its hash.
#[derive(Serialize, ToSchema)]
pub struct EnrolledDevice {
    pub device_id: i64,
    pub device_key: String,
    pub person_id: i64,
    pub kind: DeviceKind,
}

/// Enrols a phone or tag for a person; the answer carries the device key, once. A person has at
/// most one active device of each kind. A retry with the same `Idempotency-Key` is refused with
/// 409 naming the device already enrolled, since its key cannot be shown again.
#[utoipa::path(post, path = "/api/v1/persons/{id}/devices", tag = "devices", params(("id" = i64, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body = NewDevice, security(("bearer" = [])), responses(
    (status = 201, body = EnrolledDevice),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn enrol(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<NewDevice>,
) -> Result<(StatusCode, Json<EnrolledDevice>), Problem> {
    let idem = idem.bind(&actor.label(), &format!("POST /api/v1/persons/{person_id}/devices"), &body);
    let (key, hash) = new_device_key()?;
    let enrolled = app.store.enrol_device(&actor, person_id, body.kind, &hash, idem.as_ref(), app.clock.now()).await?;
    if enrolled.replayed {
        return Err(Error::Conflict(format!(
            "Idempotency-Key: device {} was enrolled by this request already; its key was shown once \
             (revoke the device and enrol a new one if the key was lost)",
            enrolled.value.id
        ))
        .into());
    }
    let device = enrolled.value;
    let answer = EnrolledDevice { device_id: device.id, device_key: key, person_id, kind: device.kind };
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// A person's devices, revoked ones included.
#[utoipa::path(get, path = "/api/v1/persons/{id}/devices", tag = "devices", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = DeviceList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
) -> Result<Json<DeviceList>, Problem> {
    app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    Ok(Json(DeviceList { devices: app.store.devices(&actor, person_id).await? }))
}

/// Revokes a device: its key and tokens stop working (on every instance within
/// `auth.status_cache_seconds`). Revoking it again changes nothing.
#[utoipa::path(delete, path = "/api/v1/persons/{id}/devices/{device_id}", tag = "devices",
    params(("id" = i64, Path), ("device_id" = i64, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Device),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn revoke(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath((person_id, device_id)): AppPath<(i64, i64)>,
) -> Result<Json<Device>, Problem> {
    let device = app.store.revoke_device(&actor, person_id, device_id, app.clock.now()).await?;
    app.forget_device(device_id);
    Ok(Json(device))
}
