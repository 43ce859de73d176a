//! The phone's own view of its case.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::DeviceKind;
use crate::http::extract::DeviceAuth;
use crate::http::problem::Problem;
use crate::register::{Category, RegistrationDue, SupervisionState};
use crate::supervision::CheckinRequest;
use crate::travel::Application;
use crate::Error;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub person_id: i64,
    pub device_id: i64,
    pub device_kind: DeviceKind,
    pub category: Category,
    /// Supervision state; absent until the first fix is judged.
    pub state: Option<SupervisionState>,
    pub supervision_ends_on: chrono::NaiveDate,
    /// Where to report in, by when, and whether that is done.
    pub registration: RegistrationDue,
    /// The judicial office to report to.
    pub office: String,
    pub office_name: Option<String>,
    /// The name of the area the person may move in freely.
    pub allowed_area: Option<String>,
    /// How often this device must report a fix, in seconds.
    pub report_every_seconds: u32,
    /// Position time of this device's newest fix, and when the next one is due.
    pub last_fix_at: Option<chrono::DateTime<chrono::Utc>>,
    pub next_fix_due: Option<chrono::DateTime<chrono::Utc>>,
    /// Requests to check in now: answer each with a fix before its deadline.
    pub checkin_requests: Vec<CheckinRequest>,
    /// Travel applications waiting for a decision, and approved ones (permits).
    pub applications: Vec<Application>,
}

/// The device's person: what they must do. Answers only for the device's own person.
#[utoipa::path(get, path = "/api/v1/me", tag = "mobile", security(("bearer" = [])), responses(
    (status = 200, body = Me),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn me(State(app): State<Arc<App>>, DeviceAuth(device): DeviceAuth) -> Result<Json<Me>, Problem> {
    let person = app.store.device_person(&device).await?.ok_or(Error::NotFound("person"))?;
    let office_name = app.store.office(&person.office).await?.map(|o| o.name);
    let policy = &app.settings.policy;
    let report_every_seconds = match device.kind {
        DeviceKind::Phone => policy.phone_interval_minutes * 60,
        DeviceKind::Tag => policy.tag_interval_seconds,
    };
    let checkin_requests = app.store.pending_checkin_requests(&device).await?;
    let applications = app.store.device_applications(&device).await?;
    let last_fix_at = app.store.device_credentials(device.device_id).await?.and_then(|c| c.device.last_fix_at);
    let next_fix_due = last_fix_at.map(|at| at + chrono::Duration::seconds(report_every_seconds.into()));
    Ok(Json(Me {
        allowed_area: allowed_area_name(&app, &person.residence_adcode),
        report_every_seconds,
        last_fix_at,
        next_fix_due,
        checkin_requests,
        applications,
        person_id: person.id,
        device_id: device.device_id,
        device_kind: device.kind,
        category: person.category,
        state: person.state,
        supervision_ends_on: person.supervision_ends_on,
        registration: person.registration(app.today()),
        office: person.office.clone(),
        office_name,
    }))
}

/// "武汉市市辖区" for a district resident, the county's own name otherwise.
fn allowed_area_name(app: &App, residence: &str) -> Option<String> {
    let area = app.geofences.allowed_area(residence).ok()?;
    match &area.members[..] {
        [one] => Some(app.geofences.county(*one).name.clone()),
        _ => {
            let city = format!("{}00", &residence[..4]);
            app.units.name(&city).map(|c| format!("{c}市辖区"))
        }
    }
}
