//! A person's exclusion zones (禁止令 places).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::http::extract::{AppJson, AppPath, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::register::{Zone, ZoneRequest};
use crate::Error;

/// Adds an exclusion zone: a GeoJSON Polygon or MultiPolygon, or a Point with `radius_m`, in the
/// frame named by `crs`. Unclosed rings, self-intersections, absurd radii and places far from
/// China are refused with the problem named.
#[utoipa::path(post, path = "/api/v1/persons/{id}/zones", tag = "zones", params(("id" = i64, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body = ZoneRequest, security(("bearer" = [])), responses(
    (status = 201, body = Zone),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<ZoneRequest>,
) -> Result<(StatusCode, Json<Zone>), Problem> {
    // Out of scope is "not found" before any drawing is judged.
    app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    let idem = idem.bind(&actor.label(), &format!("POST /api/v1/persons/{person_id}/zones"), &body);
    body.validate()?;
    let created = app.store.create_zone(&actor, person_id, &body, idem.as_ref(), app.clock.now()).await?;
    app.zones.forget(person_id);
    // A person standing inside the new zone is an entry now, not at their next move.
    crate::scheduler::rejudge_zones(&app).await?;
    let status = if created.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(created.value)))
}

#[derive(Serialize, ToSchema)]
pub struct ZoneList {
    pub zones: Vec<Zone>,
}

/// A person's exclusion zones, as drawn.
#[utoipa::path(get, path = "/api/v1/persons/{id}/zones", tag = "zones", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = ZoneList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(person_id): AppPath<i64>,
) -> Result<Json<ZoneList>, Problem> {
    app.store.person(&actor, person_id).await?.ok_or(Error::NotFound("person"))?;
    Ok(Json(ZoneList { zones: app.store.zones(&actor, person_id).await? }))
}
