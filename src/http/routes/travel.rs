//! Travel applications: a phone or an officer applies, the rules route it, the right level
//! decides.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::error::check_text;
use crate::http::extract::{AppJson, AppPath, AppQuery, Caller, Staff};
use crate::http::problem::Problem;
use crate::travel::{
    level_of, route_extension, route_regular, route_trip, Application, ApplicationFilter, ApplicationRequest,
    ApplicationStatus, Decision, ExtensionRequest, NewApplication, TravelKind, TripReport,
};
use crate::{Error, Result};

/// Submits a trip or regular-activity application. The answer says which level decides (by the
/// rules, with the rule in words), whether the procuratorate is notified, and any warnings
/// (short notice, overlapping trips). Destinations inside the allowed area are refused.
#[utoipa::path(post, path = "/api/v1/travel-applications", tag = "travel", request_body = ApplicationRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = Application),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn submit(
    State(app): State<Arc<App>>,
    caller: Caller,
    AppJson(body): AppJson<ApplicationRequest>,
) -> Result<(StatusCode, Json<Application>), Problem> {
    body.validate()?;
    let (person, actor, submitted_by) = match &caller {
        Caller::Staff(actor) => {
            let id = body.person_id.ok_or_else(|| Error::invalid("person_id", "is required"))?;
            let person = app.store.person(actor, id).await?.ok_or(Error::NotFound("person"))?;
            (person, Some(actor), actor.label())
        }
        Caller::Device(device) => {
            if body.person_id.is_some_and(|id| id != device.person_id) {
                return Err(Error::Forbidden("a phone applies for its own person only".into()).into());
            }
            let person = app.device_person(device).await?;
            ((*person).clone(), None, format!("device:{}", device.device_id))
        }
    };
    check_destinations(&app, &person.residence_adcode, &body.destinations)?;
    let today = app.today();
    let policy = &app.settings.policy;
    let routing = match body.kind {
        TravelKind::Trip => {
            let window = chrono::Days::new(policy.trip_cumulative_window_days.into());
            let others = app.store.other_trips(person.id, body.starts_on - window).await?;
            route_trip(body.starts_on, body.ends_on, today, &others, policy)?
        }
        TravelKind::Regular => route_regular(body.starts_on, body.ends_on, today, policy)?,
    };
    let new = NewApplication { person_id: person.id, request: body, routing, submitted_by, extends: None };
    let application = app.store.submit_application(actor, &new, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(application)))
}

/// Regular permits ending within this many days are listed for renewal.
const EXPIRING_DAYS: u64 = 14;

/// Asks to extend an approved trip before it ends (the person's phone, or an officer): a new
/// application, routed by the new total length; its approval moves the trip's end.
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/extension", tag = "travel", params(("id" = i64, Path)),
    request_body = ExtensionRequest, security(("bearer" = [])), responses(
    (status = 201, body = Application),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn extend(
    State(app): State<Arc<App>>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<ExtensionRequest>,
) -> Result<(StatusCode, Json<Application>), Problem> {
    check_text("reason", &body.reason, 500)?;
    let (trip, actor, submitted_by) = match &caller {
        Caller::Staff(actor) => (app.store.application(actor, id).await?, Some(actor), actor.label()),
        Caller::Device(device) => {
            let own = app.store.device_applications(device).await?.into_iter().find(|a| a.id == id);
            (own.ok_or(Error::NotFound("application"))?, None, format!("device:{}", device.device_id))
        }
    };
    if trip.status != ApplicationStatus::Approved || trip.kind != TravelKind::Trip || trip.extends.is_some() {
        return Err(Error::Conflict("only an approved trip can be extended".into()).into());
    }
    if app.today() > trip.ends_on {
        return Err(Error::Conflict(format!("the trip ended on {}: ask before the end", trip.ends_on)).into());
    }
    let policy = &app.settings.policy;
    let window = chrono::Days::new(policy.trip_cumulative_window_days.into());
    let others: Vec<_> = app
        .store
        .other_trips(trip.person_id, trip.starts_on - window)
        .await?
        .into_iter()
        .filter(|o| o.application_id != id)
        .collect();
    let routing = route_extension(trip.starts_on, trip.ends_on, body.ends_on, &others, policy)?;
    let request = ApplicationRequest {
        person_id: Some(trip.person_id),
        kind: TravelKind::Trip,
        destinations: trip.destinations.clone(),
        starts_on: trip.starts_on,
        ends_on: body.ends_on,
        reason_category: trip.reason_category,
        reason: body.reason,
        schedule: None,
    };
    let new = NewApplication { person_id: trip.person_id, request, routing, submitted_by, extends: Some(id) };
    let application = app.store.submit_application(actor, &new, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(application)))
}

/// Each destination must be a known county- or city-level unit with some part outside the area
/// the person may already move in freely.
fn check_destinations(app: &App, residence: &str, destinations: &[String]) -> Result<()> {
    let home = app.geofences.allowed_area(residence)?;
    for adcode in destinations {
        let counties = app.geofences.expand("destinations", adcode)?;
        if counties.iter().all(|c| home.contains_county(*c)) {
            let name = app.units.name(adcode).unwrap_or_default();
            let detail = format!("{adcode} ({name}) lies inside the area the person may move in freely");
            return Err(Error::invalid("destinations", detail));
        }
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApplicationQuery {
    pub person_id: Option<i64>,
    pub status: Option<ApplicationStatus>,
    /// `me`: the pending applications that the caller's level decides (the inbox).
    pub awaiting: Option<String>,
    /// Only approved regular permits ending within 14 days (to renew).
    #[serde(default)]
    pub expiring: bool,
    /// The `next` of the previous page.
    pub before: Option<i64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationPage {
    /// Newest first.
    pub applications: Vec<Application>,
    pub next: Option<i64>,
}

/// Applications in the caller's scope; `awaiting=me` is the inbox of the caller's level, each
/// with the rule that routed it.
#[utoipa::path(get, path = "/api/v1/travel-applications", tag = "travel", params(ApplicationQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = ApplicationPage),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<ApplicationQuery>,
) -> Result<Json<ApplicationPage>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::malformed(Some("limit".into()), "limit: must be between 1 and 500"));
    }
    let awaiting =
        match q.awaiting.as_deref() {
            None => None,
            Some("me") => Some(level_of(actor.role).ok_or_else(|| {
                Error::invalid("awaiting", format!("the {} role decides no applications", actor.role))
            })?),
            Some(_) => return Err(Problem::malformed(Some("awaiting".into()), "awaiting: the only value is `me`")),
        };
    let expiring_by = q.expiring.then(|| app.today() + chrono::Days::new(EXPIRING_DAYS));
    let filter =
        ApplicationFilter { person_id: q.person_id, status: q.status, awaiting, expiring_by, before: q.before, limit };
    let applications = app.store.applications(&actor, &filter).await?;
    let next = (applications.len() as i64 == limit).then(|| applications.last().map(|a| a.id)).flatten();
    Ok(Json(ApplicationPage { applications, next }))
}

/// Cancels a pending application (the person's phone, or an officer in scope).
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/cancel", tag = "travel", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Application),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Application>, Problem> {
    let (actor, device) = caller.parts();
    Ok(Json(app.store.cancel_application(actor, device, id, app.clock.now()).await?))
}

/// The person arrived at the destination of an approved trip (their phone, or an officer).
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/arrival", tag = "travel", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Application),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn arrival(
    State(app): State<Arc<App>>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Application>, Problem> {
    report(&app, caller, id, TripReport::Arrival).await
}

/// The person is back from an approved trip (their phone, or an officer).
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/return", tag = "travel", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Application),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn back(
    State(app): State<Arc<App>>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Application>, Problem> {
    report(&app, caller, id, TripReport::Return).await
}

async fn report(app: &App, caller: Caller, id: i64, report: TripReport) -> Result<Json<Application>, Problem> {
    let (actor, device) = caller.parts();
    Ok(Json(app.store.report_trip(actor, device, id, report, app.clock.now()).await?))
}

/// Approves or rejects a pending application. Only an officer of at least the level the rules
/// require, in scope, decides (403 below it). An approval is a permit: the destinations join
/// the person's allowed area for the dates.
#[utoipa::path(post, path = "/api/v1/travel-applications/{id}/decision", tag = "travel",
    params(("id" = i64, Path)), request_body = Decision, security(("bearer" = [])), responses(
    (status = 200, body = Application),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn decide(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Decision>,
) -> Result<Json<Application>, Problem> {
    check_text("reason", &body.reason, 500)?;
    let application = app.store.decide_application(&actor, id, body.approve, &body.reason, app.clock.now()).await?;
    app.permits.forget(application.person_id);
    Ok(Json(application))
}
