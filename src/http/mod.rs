//! The HTTP layer: parses, authorises, calls the domain, answers JSON or problem+json.
//! `router()` is the one table of routes; the OpenAPI document is generated from the same table,
//! so a route cannot exist without being described.

pub mod extract;
mod middleware;
pub mod problem;
pub mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{Extension, Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use problem::Problem;
use routes::{
    alerts, auth, casework, checkins, clock, compat, consultations, devices, me, monitoring, opinions, ops, oversight,
    persons, track, travel, webhooks, zones,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "liandong", description = "Community-corrections digital supervision: one live case file for the corrections agency and the procuratorate."),
    modifiers(&BearerAuth),
    components(schemas(Problem)),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// Every route of the service, with its OpenAPI description.
fn api(app: &App) -> OpenApiRouter<Arc<App>> {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(auth::login))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::device_token))
        .routes(routes!(persons::enrol, persons::list))
        .routes(routes!(persons::read))
        .routes(routes!(persons::register))
        .routes(routes!(casework::request_checkin, casework::checkin_requests))
        .routes(routes!(casework::record_sanction))
        .routes(routes!(casework::end))
        .routes(routes!(monitoring::create, monitoring::list))
        .routes(routes!(monitoring::renew))
        .routes(routes!(monitoring::lift))
        .routes(routes!(track::read))
        .routes(routes!(devices::enrol, devices::list))
        .routes(routes!(devices::revoke))
        .routes(routes!(zones::create, zones::list))
        .routes(routes!(checkins::upload))
        .routes(routes!(alerts::list))
        .routes(routes!(travel::submit, travel::list))
        .routes(routes!(travel::cancel))
        .routes(routes!(travel::decide))
        .routes(routes!(travel::arrival))
        .routes(routes!(travel::back))
        .routes(routes!(travel::extend))
        .routes(routes!(consultations::read))
        .routes(routes!(consultations::ask))
        .routes(routes!(consultations::opinion))
        .routes(routes!(consultations::schedule_hearing))
        .routes(routes!(consultations::hearing_outcome))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::resolve))
        .routes(routes!(alerts::suppress))
        .routes(routes!(compat::osmand))
        .routes(routes!(compat::owntracks))
        .routes(routes!(me::me))
        .routes(routes!(oversight::events))
        .routes(routes!(oversight::stream))
        .routes(routes!(oversight::verify))
        .routes(routes!(oversight::summary))
        .routes(routes!(opinions::issue, opinions::list))
        .routes(routes!(opinions::read))
        .routes(routes!(opinions::reply))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::read, webhooks::delete))
        .routes(routes!(openapi_json));
    if app.test_clock.is_some() {
        api = api.routes(routes!(clock::change));
    }
    api
}

/// This document: every route of the service, generated from the code.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1")))]
async fn openapi_json(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}

pub fn router(app: Arc<App>) -> Router {
    let (router, openapi) = api(&app).split_for_parts();
    router
        .layer(Extension(Arc::new(openapi)))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(app.settings.max_body_bytes))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_problem))
        .with_state(app)
}
