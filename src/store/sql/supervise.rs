//! The supervision loop inside the check-in writer's transaction: each person's newly stored
//! fixes go through `supervision::step`, and their state, alerts, answered check-in requests and
//! events commit with the fixes or not at all. What every upload touches (tracking rows, device
//! times) is read and written with one statement per group; alerts are rare and go one by one.

/// Rows per multi-row statement.
const ROWS: usize = 500;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::episodes::{end_episode, join_evidence, open_alert, NewAlert};
use super::log::append;
use super::Db;
use crate::checkin::{Batch, Fix};
use crate::oversight::{EventKind, NewEvent};
use crate::register::SupervisionState;
use crate::settings::Policy;
use crate::supervision::{step, AlertKind, Effect, Evidence, Observation, PermitUse, Tracking};
use crate::{Error, Result};

#[derive(FromRow)]
struct TrackingRow {
    id: i64,
    county: String,
    state: Option<String>,
    ended_on: Option<NaiveDate>,
    last_fix_at: Option<DateTime<Utc>>,
    outside_run: Option<String>,
    open_episodes: bool,
    pending_requests: bool,
}

fn observation(fix: &Fix, device_id: i64) -> Observation {
    Observation {
        id: fix.client_id.clone(),
        at: fix.at,
        device_id,
        placement: fix.placement,
        distance_m: fix.edge_distance_m,
        accuracy_m: fix.accuracy_m,
        adcode: fix.adcode.clone(),
        place: fix.place.clone(),
        zones: fix.zones.clone(),
        permit: fix.permit,
    }
}

/// Pushes ` IN (a, b, …)` for `ids`.
fn push_in(q: &mut QueryBuilder<'_, Db>, ids: &[i64]) {
    q.push(" IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    q.push(")");
}

/// Judges the new fixes of a group (`accepted[b]`: positions in `batches[b].fixes` stored by
/// this group; retries judge nothing twice) person by person, and records what they changed.
/// Answers each person's state after them.
pub(super) async fn supervise(
    tx: &mut Transaction<'_, Db>,
    batches: &[Batch],
    accepted: &[Vec<usize>],
    policy: &Policy,
) -> Result<HashMap<i64, Option<SupervisionState>>> {
    let mut persons: BTreeMap<i64, (Vec<Observation>, DateTime<Utc>)> = BTreeMap::new();
    let mut devices: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for (batch, fixes) in batches.iter().zip(accepted) {
        for &f in fixes {
            let fix = &batch.fixes[f];
            let entry = persons.entry(batch.person_id).or_insert_with(|| (Vec::new(), batch.received_at));
            entry.0.push(observation(fix, batch.device_id));
            entry.1 = entry.1.max(batch.received_at);
            let newest = devices.entry(batch.device_id).or_insert(fix.at);
            *newest = (*newest).max(fix.at);
        }
    }
    let mut states = HashMap::new();
    if persons.is_empty() {
        return Ok(states);
    }
    let ids: Vec<i64> = persons.keys().copied().collect();
    // The persons are locked already (`store_fixes`).
    let mut q = QueryBuilder::<Db>::new(
        "SELECT p.id, p.county, p.state, p.ended_on, p.last_fix_at, p.outside_run, \
         EXISTS (SELECT 1 FROM alerts a WHERE a.person_id = p.id AND a.episode_ended_at IS NULL) AS open_episodes, \
         EXISTS (SELECT 1 FROM checkin_requests r WHERE r.person_id = p.id AND r.answered_at IS NULL \
                 AND r.missed_at IS NULL AND r.cancelled_at IS NULL) AS pending_requests \
         FROM persons p WHERE p.id",
    );
    push_in(&mut q, &ids);
    q.push(" ORDER BY p.id");
    let rows: Vec<TrackingRow> = q.build_query_as().fetch_all(&mut **tx).await?;
    let open = open_episodes(tx, &rows).await?;
    let mut changed: Vec<(i64, Tracking)> = Vec::new();
    for row in rows {
        let (observations, now) = &persons[&row.id];
        if row.ended_on.is_some() {
            states.insert(row.id, Some(SupervisionState::Ended));
            continue;
        }
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("person {}: bad {what} in the database", row.id));
        let tracking = Tracking {
            state: row
                .state
                .as_deref()
                .map(|s| SupervisionState::parse(s).ok_or_else(|| corrupt("state")))
                .transpose()?,
            last_fix_at: row.last_fix_at,
            outside: row
                .outside_run
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("outside run"))?
                .unwrap_or_default(),
        };
        let empty = HashMap::new();
        let result = step(&tracking, open.get(&row.id).unwrap_or(&empty), observations, policy, *now);
        for effect in &result.effects {
            apply(tx, row.id, &row.county, effect, *now, policy).await?;
        }
        for (from, until) in &result.silences {
            sqlx::query("INSERT INTO silent_periods (person_id, from_at, until_at) VALUES ($1, $2, $3)")
                .bind(row.id)
                .bind(from)
                .bind(until)
                .execute(&mut **tx)
                .await?;
        }
        visits(tx, row.id, &row.county, observations, *now).await?;
        if row.pending_requests {
            let newest = observations.iter().max_by_key(|o| o.at).expect("a person here has new fixes");
            answer_requests(tx, row.id, &row.county, newest, *now).await?;
        }
        states.insert(row.id, result.tracking.state);
        if result.tracking != tracking {
            changed.push((row.id, result.tracking));
        }
    }
    update_tracking(tx, &changed).await?;
    update_devices(tx, &devices).await?;
    Ok(states)
}

/// A check-in at the destination of a regular permit reports a visit (domain.md §3): at most
/// one per permit and half day, each an event.
async fn visits(
    tx: &mut Transaction<'_, Db>,
    person: i64,
    county: &str,
    observations: &[Observation],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut newest: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for o in observations {
        if let Some(PermitUse::AtDestination { application_id }) = o.permit {
            let at = newest.entry(application_id).or_insert(o.at);
            *at = (*at).max(o.at);
        }
    }
    for (application, at) in newest {
        let visited = sqlx::query(
            "UPDATE travel_applications SET arrived_at = $1 WHERE id = $2 AND kind = 'regular' \
             AND (arrived_at IS NULL OR arrived_at < $3)",
        )
        .bind(at)
        .bind(application)
        .bind(at - chrono::Duration::hours(12))
        .execute(&mut **tx)
        .await?;
        if visited.rows_affected() == 1 {
            let data = json!({ "application_id": application, "at": at, "by_checkin": true });
            append(tx, &NewEvent::new(EventKind::TravelArrived, county, "system", data).about(person), now).await?;
        }
    }
    Ok(())
}

/// The running episodes of the persons that have any, with their evidence.
async fn open_episodes(
    tx: &mut Transaction<'_, Db>,
    rows: &[TrackingRow],
) -> Result<HashMap<i64, HashMap<AlertKind, Evidence>>> {
    let ids: Vec<i64> = rows.iter().filter(|r| r.open_episodes).map(|r| r.id).collect();
    let mut open: HashMap<i64, HashMap<AlertKind, Evidence>> = HashMap::new();
    if ids.is_empty() {
        return Ok(open);
    }
    let mut q = QueryBuilder::<Db>::new(
        "SELECT person_id, kind, evidence FROM alerts WHERE episode_ended_at IS NULL AND person_id",
    );
    push_in(&mut q, &ids);
    let found: Vec<(i64, String, String)> = q.build_query_as().fetch_all(&mut **tx).await?;
    for (person, kind, evidence) in found {
        let corrupt = || Error::Internal(anyhow::anyhow!("person {person}: bad alert in the database"));
        let kind = AlertKind::parse(&kind).ok_or_else(corrupt)?;
        let evidence: Evidence = serde_json::from_str(&evidence).map_err(|_| corrupt())?;
        open.entry(person).or_default().insert(kind, evidence);
    }
    Ok(open)
}

/// One statement for the group: each changed person's state, newest fix time and outside run.
async fn update_tracking(tx: &mut Transaction<'_, Db>, changed: &[(i64, Tracking)]) -> Result<()> {
    for chunk in changed.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "UPDATE persons SET state = v.column2, last_fix_at = v.column3, outside_run = v.column4 FROM (",
        );
        q.push_values(chunk, |mut row, (id, t)| {
            let run = serde_json::to_string(&t.outside).unwrap_or_default();
            row.push_bind(*id).push_bind(t.state.map(SupervisionState::as_str)).push_bind(t.last_fix_at).push_bind(run);
        });
        q.push(") AS v WHERE persons.id = v.column1");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// One statement for the group: each device's newest position time (lost contact is per device).
async fn update_devices(tx: &mut Transaction<'_, Db>, devices: &BTreeMap<i64, DateTime<Utc>>) -> Result<()> {
    let devices: Vec<(&i64, &DateTime<Utc>)> = devices.iter().collect();
    for chunk in devices.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new("UPDATE devices SET last_fix_at = v.column2 FROM (");
        q.push_values(chunk, |mut row, (id, at)| {
            row.push_bind(**id).push_bind(**at);
        });
        q.push(
            ") AS v WHERE devices.id = v.column1 AND (devices.last_fix_at IS NULL OR devices.last_fix_at < v.column2)",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn apply(
    tx: &mut Transaction<'_, Db>,
    person: i64,
    county: &str,
    effect: &Effect,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<()> {
    match effect {
        Effect::Open { kind, opened_at, ended_at, retrospective, evidence } => {
            let new = NewAlert {
                person_id: person,
                county,
                kind: *kind,
                opened_at: *opened_at,
                ended_at: *ended_at,
                retrospective: *retrospective,
                evidence,
                actor: "system",
            };
            open_alert(tx, &new, now, policy).await?;
        }
        Effect::Join { kind, evidence } => join_evidence(tx, person, county, *kind, evidence, now).await?,
        Effect::End { kind, at } => end_episode(tx, person, county, *kind, *at, now).await?,
        Effect::Past { kind, from, until, evidence } => {
            past_episode(tx, person, county, *kind, *from, *until, evidence, now, policy).await?
        }
    }
    Ok(())
}

/// Late fixes proved an absence (or a zone entry) between `from` and `until`: one retrospective
/// alert, unless an episode of the kind already covers that time. An absence ends at the first
/// fix back inside after it; with none, the running episode (if any) is that absence.
#[expect(clippy::too_many_arguments, reason = "one call site, every argument is a different fact")]
async fn past_episode(
    tx: &mut Transaction<'_, Db>,
    person: i64,
    county: &str,
    kind: AlertKind,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    evidence: &Evidence,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<()> {
    let back: Option<DateTime<Utc>> = if kind == AlertKind::UnapprovedAbsence {
        sqlx::query_scalar("SELECT MIN(at) FROM fixes WHERE person_id = $1 AND at > $2 AND placement = 'inside'")
            .bind(person)
            .bind(until)
            .fetch_one(&mut **tx)
            .await?
    } else {
        Some(until)
    };
    let covered: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE person_id = $1 AND kind = $2 \
         AND opened_at <= $3 AND (episode_ended_at IS NULL OR episode_ended_at >= $4))",
    )
    .bind(person)
    .bind(kind.as_str())
    .bind(back.unwrap_or(until))
    .bind(from)
    .fetch_one(&mut **tx)
    .await?;
    if covered {
        return Ok(());
    }
    let new = NewAlert {
        person_id: person,
        county,
        kind,
        opened_at: from,
        ended_at: back,
        retrospective: true,
        evidence,
        actor: "system",
    };
    open_alert(tx, &new, now, policy).await?;
    Ok(())
}

/// Check-in requests made before the newest fix's position time are answered by it.
async fn answer_requests(
    tx: &mut Transaction<'_, Db>,
    person: i64,
    county: &str,
    newest: &Observation,
    now: DateTime<Utc>,
) -> Result<()> {
    let answered: Vec<i64> = sqlx::query_scalar(
        "UPDATE checkin_requests SET answered_at = $1, answer_fix = $2 WHERE person_id = $3 AND answered_at IS NULL \
         AND missed_at IS NULL AND cancelled_at IS NULL AND requested_at <= $4 AND deadline >= $1 RETURNING id",
    )
    .bind(now)
    .bind(&newest.id)
    .bind(person)
    .bind(newest.at)
    .fetch_all(&mut **tx)
    .await?;
    for id in answered {
        let data = json!({ "request_id": id, "fix_id": newest.id, "fix_at": newest.at });
        append(tx, &NewEvent::new(EventKind::CheckinAnswered, county, "system", data).about(person), now).await?;
    }
    Ok(())
}
