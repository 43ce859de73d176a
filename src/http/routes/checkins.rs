//! Phones and tags upload fixes: each fix stands alone, is judged against the person's allowed
//! area, and is stored once; the answer comes after the commit.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{DeviceActor, DeviceKind};
use crate::checkin::{judge, judge_event, Batch, FixInput, Permit, Rejected, Rules, TagEventInput, MAX_BATCH};
use crate::geofence::Allowance;
use crate::geofence::Placement;
use crate::http::extract::{AppJson, DeviceAuth};
use crate::http::problem::Problem;
use crate::register::SupervisionState;
use crate::Error;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// Up to 1,000 fixes, in any order (an offline backlog may come late and twice).
    #[schema(value_type = Vec<FixInput>)]
    #[serde(default)]
    pub fixes: Vec<serde_json::Value>,
    /// Up to 1,000 tamper, strap and battery events (tags only).
    #[schema(value_type = Vec<TagEventInput>)]
    #[serde(default)]
    pub events: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Place {
    pub adcode: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckinAnswer {
    /// Fixes stored by this upload.
    pub accepted: usize,
    /// Fixes (and tag events) already stored with the same id, time and content: a retry, not
    /// stored again.
    pub duplicates: usize,
    /// Tag events stored by this upload.
    pub events_accepted: usize,
    pub rejected: Vec<Rejected>,
    /// The person's supervision state after this upload (absent before the first fix).
    pub state: Option<SupervisionState>,
    /// Where the newest fix of the upload lies against the area the person may be in, so that
    /// the phone can warn before the person leaves.
    pub placement: Option<Placement>,
    /// The county-level unit of the newest fix.
    pub place: Option<Place>,
}

/// Uploads fixes (and, from tags, tamper, strap and battery events). 200 once they and what they
/// caused (state, alerts, events) are committed to disk; 422 (with the same `rejected` list) when
/// nothing was accepted or recognised as a duplicate; 503 with `Retry-After` when the writer's
/// queue is full.
#[utoipa::path(post, path = "/api/v1/checkins", tag = "mobile", request_body = CheckinRequest,
    security(("bearer" = [])), responses(
    (status = 200, body = CheckinAnswer),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn upload(
    State(app): State<Arc<App>>,
    DeviceAuth(device): DeviceAuth,
    AppJson(body): AppJson<CheckinRequest>,
) -> Result<Json<CheckinAnswer>, Problem> {
    Ok(Json(ingest(&app, device, &body.fixes, &body.events).await?))
}

/// The pipeline every check-in client shares: judge each fix (and tag event), store the good
/// ones durably, answer per item.
pub async fn ingest(
    app: &App,
    device: DeviceActor,
    values: &[serde_json::Value],
    event_values: &[serde_json::Value],
) -> Result<CheckinAnswer, Problem> {
    if values.len() + event_values.len() == 0 || values.len() > MAX_BATCH || event_values.len() > MAX_BATCH {
        return Err(Error::invalid("fixes", format!("must hold 1 to {MAX_BATCH} fixes (or tag events)")).into());
    }
    if !event_values.is_empty() && device.kind != DeviceKind::Tag {
        return Err(Error::invalid("events", "only electronic location devices (tags) send device events").into());
    }
    let person = app.device_person(&device).await?;
    let zones = app.zones.get(app.store.as_ref(), person.id).await?;
    let grace = chrono::Duration::hours(app.settings.policy.return_grace_hours.into());
    let permits = app.permits.get(app.store.as_ref(), &app.geofences, app.tz, grace, person.id, app.today()).await?;
    let allowance = Allowance {
        base: app.geofences.allowed_area(&person.residence_adcode)?,
        extras: permits.iter().map(Permit::extra).collect(),
    };
    let rules = Rules {
        engine: &app.geofences,
        allowance: &allowance,
        permits: &permits,
        zones: &zones,
        person_id: person.id,
        now: app.clock.now(),
        future_tolerance: chrono::Duration::minutes(app.settings.policy.future_fix_tolerance_minutes.into()),
    };
    let (mut fixes, mut positions, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
    for (index, value) in values.iter().enumerate() {
        match judge(value, &rules) {
            Ok(fix) => {
                fixes.push(fix);
                positions.push(index);
            }
            Err(e) => rejected.push(Rejected { list: "fixes", index, detail: e.to_string() }),
        }
    }
    let (mut events, mut event_positions) = (Vec::new(), Vec::new());
    for (index, value) in event_values.iter().enumerate() {
        match judge_event(value, rules.now, rules.future_tolerance) {
            Ok(event) => {
                events.push(event);
                event_positions.push(index);
            }
            Err(e) => rejected.push(Rejected { list: "events", index, detail: e.to_string() }),
        }
    }
    let mut answer = CheckinAnswer {
        accepted: 0,
        duplicates: 0,
        events_accepted: 0,
        rejected,
        state: person.state,
        placement: None,
        place: None,
    };
    if !fixes.is_empty() || !events.is_empty() {
        // What the answer needs of each fix, kept so that the fixes themselves move to the writer.
        let summary: Vec<_> = fixes.iter().map(|f| (f.at, f.placement, f.adcode.clone(), f.place.clone())).collect();
        let batch = Batch { person_id: person.id, device_id: device.device_id, received_at: rules.now, fixes, events };
        let stored = app.ingest.submit(batch).await?;
        answer.accepted = stored.accepted;
        answer.duplicates = stored.duplicates + stored.events_duplicates;
        answer.events_accepted = stored.events_accepted;
        answer.state = stored.state.or(answer.state);
        for &i in &stored.conflicts {
            let detail = "id: this fix id and time were stored with another position".to_owned();
            answer.rejected.push(Rejected { list: "fixes", index: positions[i], detail });
        }
        for &i in &stored.event_conflicts {
            let detail = "id: this event id and time were stored with other content".to_owned();
            answer.rejected.push(Rejected { list: "events", index: event_positions[i], detail });
        }
        let newest = (0..summary.len()).filter(|i| !stored.conflicts.contains(i)).max_by_key(|&i| summary[i].0);
        if let Some((_, placement, adcode, name)) = newest.map(|i| &summary[i]) {
            answer.placement = Some(*placement);
            answer.place =
                adcode.as_ref().map(|adcode| Place { adcode: adcode.clone(), name: name.clone().unwrap_or_default() });
        }
    }
    answer.rejected.sort_by_key(|r| (r.list, r.index));
    if answer.accepted + answer.duplicates + answer.events_accepted == 0 {
        let detail = format!("nothing was accepted: {} rejected", answer.rejected.len());
        return Err(Problem::invalid("fixes", detail).with_extension("rejected", serde_json::json!(answer.rejected)));
    }
    Ok(answer)
}
