//! The officer console's case register: enrol, list, read, record registration.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::http::extract::{AppJson, AppPath, AppQuery, IdempotencyHeader, Staff};
use crate::http::problem::Problem;
use crate::register::{Enrolment, Person, PersonFilter, Registration, RegistrationDue, SupervisionState};
use crate::store::Device;
use crate::supervision::{Alert, AlertFilter, AlertKind, AlertStatus, Episode, Sanction, SilentPeriod};
use crate::Error;

/// A person as the console shows them.
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    #[serde(flatten)]
    pub person: Person,
    /// Name of the residence county.
    pub residence_name: Option<String>,
    pub registration: RegistrationDue,
}

impl PersonView {
    pub fn new(app: &App, person: Person) -> Self {
        PersonView {
            residence_name: app.units.name(&person.residence_adcode).map(str::to_owned),
            registration: person.registration(app.today()),
            person,
        }
    }
}

/// Enrols a person under community corrections. Send an `Idempotency-Key` header to make a
/// retry safe: the same key and body answer with the person already created.
#[utoipa::path(post, path = "/api/v1/persons", tag = "persons", request_body = Enrolment,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])), responses(
    (status = 201, body = PersonView),
    (status = 200, description = "a retry: the person created by the first request", body = PersonView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn enrol(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    idem: IdempotencyHeader,
    AppJson(body): AppJson<Enrolment>,
) -> Result<(StatusCode, Json<PersonView>), Problem> {
    let idem = idem.bind(&actor.label(), "POST /api/v1/persons", &body);
    let person = body.validate(&app.units, &app.settings.policy)?;
    let enrolled = app.store.enrol_person(&actor, &person, idem.as_ref(), app.clock.now()).await?;
    let status = if enrolled.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(PersonView::new(&app, enrolled.value))))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only persons of this judicial office.
    pub office: Option<String>,
    /// Only persons in this supervision state.
    pub state: Option<SupervisionState>,
    /// Only persons past their registration day without having reported in (漏管).
    #[serde(default)]
    pub unregistered: bool,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PersonPage {
    pub persons: Vec<PersonView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// The persons in the caller's scope, in id order.
#[utoipa::path(get, path = "/api/v1/persons", tag = "persons", params(ListQuery),
    security(("bearer" = [])), responses((status = 200, body = PersonPage)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<PersonPage>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::malformed(Some("limit".into()), "limit: must be between 1 and 500"));
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(Problem::malformed(Some("after".into()), "after: must not be negative"));
    }
    let filter = PersonFilter { office: q.office, state: q.state, unregistered: q.unregistered, limit, after };
    let persons = app.store.persons(&actor, &filter, app.today()).await?;
    let next = (persons.len() as i64 == limit).then(|| persons.last().map(|p| p.id)).flatten();
    let persons = persons.into_iter().map(|p| PersonView::new(&app, p)).collect();
    Ok(Json(PersonPage { persons, next }))
}

#[derive(Serialize, ToSchema)]
pub struct PersonDetail {
    #[serde(flatten)]
    pub view: PersonView,
    pub devices: Vec<Device>,
    /// Alerts not yet resolved, and those whose episode still runs.
    pub alerts: Vec<Alert>,
    /// Each lost-contact and late-registration episode, with the sanction it points to.
    pub episodes: Vec<Episode>,
    /// Sanctions officers recorded.
    pub sanctions: Vec<Sanction>,
    /// Periods without any fix longer than `policy.unreachable_warn_hours`, newest first.
    pub silent_periods: Vec<SilentPeriod>,
}

/// One person in the caller's scope. A person elsewhere is "not found", exactly like one who
/// does not exist.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "persons", params(("id" = i64, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = PersonDetail),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn read(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
) -> Result<Json<PersonDetail>, Problem> {
    let person = app.store.person(&actor, id).await?.ok_or(Error::NotFound("person"))?;
    let devices = app.store.devices(&actor, id).await?;
    let all =
        app.store.alerts(&actor, &AlertFilter { person_id: Some(id), limit: 500, ..AlertFilter::default() }).await?;
    let (now, policy) = (app.clock.now(), &app.settings.policy);
    let episodes = all
        .iter()
        .filter(|a| matches!(a.kind, AlertKind::LostContact | AlertKind::MissedRegistration))
        .map(|a| Episode::new(a, person.category, now, policy))
        .collect();
    let alerts =
        all.into_iter().filter(|a| a.status != AlertStatus::Resolved || a.episode_ended_at.is_none()).collect();
    let sanctions = app.store.sanctions(&actor, id).await?;
    let silent_periods = app.store.silent_periods(&actor, id).await?;
    let view = PersonView::new(&app, person);
    Ok(Json(PersonDetail { view, devices, alerts, episodes, sanctions, silent_periods }))
}

/// Records that the person reported in (报到). Recording the same day again is harmless.
#[utoipa::path(post, path = "/api/v1/persons/{id}/registration", tag = "persons",
    params(("id" = i64, Path)), request_body = Registration, security(("bearer" = [])), responses(
    (status = 200, body = PersonView),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn register(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Registration>,
) -> Result<Json<PersonView>, Problem> {
    let person = app.store.person(&actor, id).await?.ok_or(Error::NotFound("person"))?;
    let on = body.day(&person, app.today())?;
    let person = app.store.record_registration(&actor, id, on, app.clock.now()).await?;
    Ok(Json(PersonView::new(&app, person)))
}
