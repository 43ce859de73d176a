//! Travel applications: submitted by a phone for its own person or by an officer in scope,
//! listed in scope (the inbox of a level), cancelled while pending, decided at the required
//! level or above. Each step is an event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{lock_persons, push_scope, writable_person};
use super::log::append;
use super::{Backend, Db};
use crate::auth::{Actor, DeviceActor};
use crate::oversight::{EventKind, NewEvent};
use crate::store::TravelStore;
use crate::travel::{
    level_of, Application, ApplicationFilter, ApplicationStatus, Level, NewApplication, OtherTrip, ReasonCategory,
    TravelKind, TripReport, Warning,
};
use crate::{Error, Result};

/// The shortest written reason for approving against an opposing opinion.
const MIN_REASON_AGAINST_OPINION: usize = 10;

const COLUMNS: &str = "a.id, a.person_id, a.kind, a.destinations, a.starts_on, a.ends_on, a.reason_category, \
     a.reason, a.schedule, a.status, a.decided_by, a.notify_procuratorate, a.rule, a.warnings, a.submitted_at, \
     a.submitted_by, a.decided_at, a.decider, a.decision_reason, a.arrived_at, a.returned_at, a.extends_id";

#[derive(FromRow)]
struct Row {
    id: i64,
    person_id: i64,
    kind: String,
    destinations: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    reason_category: String,
    reason: String,
    schedule: Option<String>,
    status: String,
    decided_by: String,
    notify_procuratorate: bool,
    rule: String,
    warnings: String,
    submitted_at: DateTime<Utc>,
    submitted_by: String,
    decided_at: Option<DateTime<Utc>>,
    decider: Option<i64>,
    decision_reason: Option<String>,
    arrived_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    extends_id: Option<i64>,
}

impl TryFrom<Row> for Application {
    type Error = Error;
    fn try_from(r: Row) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("application {}: bad {what} in the database", r.id));
        Ok(Application {
            id: r.id,
            person_id: r.person_id,
            kind: TravelKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?,
            destinations: serde_json::from_str(&r.destinations).map_err(|_| corrupt("destinations"))?,
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            reason_category: ReasonCategory::parse(&r.reason_category).ok_or_else(|| corrupt("reason category"))?,
            reason: r.reason,
            schedule: r.schedule,
            status: ApplicationStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            decided_by: Level::parse(&r.decided_by).ok_or_else(|| corrupt("level"))?,
            notify_procuratorate: r.notify_procuratorate,
            rule: r.rule,
            warnings: serde_json::from_str::<Vec<Warning>>(&r.warnings).map_err(|_| corrupt("warnings"))?,
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
            decided_at: r.decided_at,
            decider: r.decider,
            decision_reason: r.decision_reason,
            arrived_at: r.arrived_at,
            returned_at: r.returned_at,
            extends: r.extends_id,
        })
    }
}

fn text<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value).map_err(|e| anyhow::anyhow!("encoding an application: {e}"))?)
}

async fn by_id(tx: &mut Transaction<'_, Db>, id: i64) -> Result<Option<(Application, String)>> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT a.id, p.county FROM travel_applications a JOIN persons p ON p.id = a.person_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((_, county)) = row else { return Ok(None) };
    let row: Row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM travel_applications a WHERE a.id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some((row.try_into()?, county)))
}

/// The application if the actor may see it (same 404 for elsewhere and nowhere).
pub(super) async fn scoped(tx: &mut Transaction<'_, Db>, actor: &Actor, id: i64) -> Result<(Application, String)> {
    let mut q = QueryBuilder::<Db>::new(
        "SELECT a.id FROM travel_applications a JOIN persons p ON p.id = a.person_id WHERE a.id = ",
    );
    q.push_bind(id);
    push_scope(&mut q, actor).map_err(|_| Error::NotFound("application"))?;
    let found: Option<i64> = q.build_query_scalar().fetch_optional(&mut **tx).await?;
    found.ok_or(Error::NotFound("application"))?;
    by_id(tx, id).await?.ok_or(Error::NotFound("application"))
}

/// The application as its person's device, or an officer who may change the person, may act on.
pub(super) async fn for_caller(
    tx: &mut Transaction<'_, Db>,
    actor: Option<&Actor>,
    device: Option<&DeviceActor>,
    id: i64,
) -> Result<(Application, String)> {
    match (actor, device) {
        (Some(actor), _) => {
            let found = scoped(tx, actor, id).await?;
            writable_person(tx, actor, found.0.person_id).await?;
            Ok(found)
        }
        (None, Some(device)) => {
            by_id(tx, id).await?.filter(|(a, _)| a.person_id == device.person_id).ok_or(Error::NotFound("application"))
        }
        (None, None) => Err(Error::NotFound("application")),
    }
}

fn caller_label(actor: Option<&Actor>, device: Option<&DeviceActor>) -> String {
    actor.map(Actor::label).or(device.map(|d| format!("device:{}", d.device_id))).unwrap_or_default()
}

#[async_trait]
impl TravelStore for Backend {
    async fn report_trip(
        &self,
        actor: Option<&Actor>,
        device: Option<&DeviceActor>,
        id: i64,
        report: TripReport,
        at: DateTime<Utc>,
    ) -> Result<Application> {
        let mut tx = self.begin_write().await?;
        let (application, county) = for_caller(&mut tx, actor, device, id).await?;
        if application.status != ApplicationStatus::Approved {
            return Err(Error::Conflict(format!("the application is {}, not approved", application.status)));
        }
        let (column, kind) = match report {
            TripReport::Arrival => ("arrived_at", EventKind::TravelArrived),
            TripReport::Return => ("returned_at", EventKind::TravelReturned),
        };
        // Reporting again changes nothing: the first report stands.
        let updated =
            sqlx::query(&format!("UPDATE travel_applications SET {column} = $1 WHERE id = $2 AND {column} IS NULL"))
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 1 {
            let event = NewEvent::new(kind, &county, caller_label(actor, device), json!({ "application_id": id }));
            append(&mut tx, &event.about(application.person_id), at).await?;
        }
        let (application, _) = by_id(&mut tx, id).await?.ok_or(Error::NotFound("application"))?;
        tx.commit().await?;
        Ok(application)
    }

    async fn other_trips(&self, person_id: i64, since: NaiveDate) -> Result<Vec<OtherTrip>> {
        let rows: Vec<(i64, NaiveDate, NaiveDate, String)> = sqlx::query_as(
            "SELECT id, starts_on, ends_on, status FROM travel_applications WHERE person_id = $1 AND kind = 'trip' \
             AND status IN ('pending', 'approved') AND ends_on >= $2 AND extends_id IS NULL ORDER BY id",
        )
        .bind(person_id)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, starts_on, ends_on, status)| OtherTrip {
                application_id: id,
                starts_on,
                ends_on,
                approved: status == "approved",
            })
            .collect())
    }

    async fn submit_application(
        &self,
        actor: Option<&Actor>,
        new: &NewApplication,
        at: DateTime<Utc>,
    ) -> Result<Application> {
        let mut tx = self.begin_write().await?;
        let county = match actor {
            Some(actor) => {
                let (county, ended) = writable_person(&mut tx, actor, new.person_id).await?;
                if ended {
                    return Err(Error::Conflict("supervision of this person has ended".into()));
                }
                county
            }
            // A device applies for its own person, established by its token.
            None => sqlx::query_scalar("SELECT county FROM persons WHERE id = $1 AND ended_on IS NULL")
                .bind(new.person_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::Conflict("supervision of this person has ended".into()))?,
        };
        let r = &new.request;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO travel_applications (person_id, kind, destinations, starts_on, ends_on, reason_category, \
             reason, schedule, status, decided_by, notify_procuratorate, rule, warnings, submitted_at, submitted_by, \
             extends_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(new.person_id)
        .bind(r.kind.as_str())
        .bind(text(&r.destinations)?)
        .bind(r.starts_on)
        .bind(r.ends_on)
        .bind(r.reason_category.as_str())
        .bind(r.reason.trim())
        .bind(r.schedule.as_deref().map(str::trim))
        .bind(new.routing.decided_by.as_str())
        .bind(new.routing.notify_procuratorate)
        .bind(&new.routing.rule)
        .bind(text(&new.routing.warnings)?)
        .bind(at)
        .bind(&new.submitted_by)
        .bind(new.extends)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(original) = new.extends {
            let pending: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM travel_applications WHERE extends_id = $1 AND status = 'pending' AND id <> $2)",
            )
            .bind(original)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if pending {
                return Err(Error::Conflict("an extension of this trip is already waiting for a decision".into()));
            }
        }
        let data = json!({
            "application_id": id, "kind": r.kind, "destinations": r.destinations, "starts_on": r.starts_on,
            "ends_on": r.ends_on, "reason_category": r.reason_category, "decided_by": new.routing.decided_by,
            "notify_procuratorate": new.routing.notify_procuratorate, "rule": new.routing.rule,
            "warnings": new.routing.warnings, "extends": new.extends,
        });
        let kind = if new.extends.is_some() { EventKind::ExtensionRequested } else { EventKind::TravelSubmitted };
        let event = NewEvent::new(kind, &county, new.submitted_by.clone(), data);
        append(&mut tx, &event.about(new.person_id), at).await?;
        let (application, _) = by_id(&mut tx, id).await?.ok_or(Error::NotFound("application"))?;
        tx.commit().await?;
        Ok(application)
    }

    async fn applications(&self, actor: &Actor, filter: &ApplicationFilter) -> Result<Vec<Application>> {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {COLUMNS} FROM travel_applications a JOIN persons p ON p.id = a.person_id WHERE 1 = 1"
        ));
        push_scope(&mut q, actor)?;
        if let Some(person) = filter.person_id {
            q.push(" AND a.person_id = ").push_bind(person);
        }
        if let Some(status) = filter.status {
            q.push(" AND a.status = ").push_bind(status.as_str());
        }
        if let Some(level) = filter.awaiting {
            q.push(" AND a.status = 'pending' AND a.decided_by = ").push_bind(level.as_str());
        }
        if let Some(by) = filter.expiring_by {
            q.push(" AND a.kind = 'regular' AND a.status = 'approved' AND a.ends_on <= ").push_bind(by);
        }
        if let Some(before) = filter.before {
            q.push(" AND a.id < ").push_bind(before);
        }
        q.push(" ORDER BY a.id DESC LIMIT ").push_bind(filter.limit);
        let rows: Vec<Row> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Application::try_from).collect()
    }

    async fn device_applications(&self, device: &DeviceActor) -> Result<Vec<Application>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM travel_applications a WHERE a.person_id = $1 \
             AND a.status IN ('pending', 'approved') ORDER BY a.id DESC LIMIT 50"
        ))
        .bind(device.person_id)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Application::try_from).collect()
    }

    async fn cancel_application(
        &self,
        actor: Option<&Actor>,
        device: Option<&DeviceActor>,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Application> {
        let mut tx = self.begin_write().await?;
        let (application, county) = for_caller(&mut tx, actor, device, id).await?;
        match application.status {
            ApplicationStatus::Cancelled => return Ok(application),
            ApplicationStatus::Pending => {}
            _ => return Err(Error::Conflict(format!("the application is already {}", application.status))),
        }
        sqlx::query("UPDATE travel_applications SET status = 'cancelled' WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new(
            EventKind::TravelCancelled,
            &county,
            caller_label(actor, device),
            json!({ "application_id": id }),
        );
        append(&mut tx, &event.about(application.person_id), at).await?;
        let (application, _) = by_id(&mut tx, id).await?.ok_or(Error::NotFound("application"))?;
        tx.commit().await?;
        Ok(application)
    }

    async fn decide_application(
        &self,
        actor: &Actor,
        id: i64,
        approve: bool,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Application> {
        let mut tx = self.begin_write().await?;
        let (found, _) = scoped(&mut tx, actor, id).await?;
        // The person first (approval changes where they may be), then the application as it is now.
        lock_persons(&mut tx, &[found.person_id]).await?;
        let (application, county) = scoped(&mut tx, actor, id).await?;
        let level = level_of(actor.role).filter(|l| *l >= application.decided_by).ok_or_else(|| {
            Error::Forbidden(format!("this application is decided at {} level or above", application.decided_by))
        })?;
        if application.status != ApplicationStatus::Pending {
            return Err(Error::Conflict(format!("the application is already {}", application.status)));
        }
        let opposed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM consultations WHERE application_id = $1 AND stance = 'oppose')",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        // Approving against the procuratorate's opposing opinion needs reasons in writing.
        if opposed && approve && reason.trim().chars().count() < MIN_REASON_AGAINST_OPINION {
            let detail = format!(
                "must explain, in at least {MIN_REASON_AGAINST_OPINION} characters, an approval against the \
                 procuratorate's opposing opinion"
            );
            return Err(Error::invalid("reason", detail));
        }
        let status = if approve { ApplicationStatus::Approved } else { ApplicationStatus::Rejected };
        sqlx::query(
            "UPDATE travel_applications SET status = $1, decided_at = $2, decider = $3, decision_reason = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(at)
        .bind(actor.user_id)
        .bind(reason.trim())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let (true, Some(original)) = (approve, application.extends) {
            sqlx::query("UPDATE travel_applications SET ends_on = $1 WHERE id = $2")
                .bind(application.ends_on)
                .bind(original)
                .execute(&mut *tx)
                .await?;
        }
        let data = json!({
            "application_id": id, "extends": application.extends, "approved": approve, "level": level,
            "required_level": application.decided_by,
            "reason": reason.trim(), "against_opinion": opposed && approve,
        });
        let event = NewEvent::new(EventKind::TravelDecided, &county, actor.label(), data);
        append(&mut tx, &event.about(application.person_id), at).await?;
        let (application, _) = by_id(&mut tx, id).await?.ok_or(Error::NotFound("application"))?;
        tx.commit().await?;
        Ok(application)
    }

    async fn application(&self, actor: &Actor, id: i64) -> Result<Application> {
        let mut tx = self.read.begin().await?;
        let (application, _) = scoped(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(application)
    }

    async fn person_permits(&self, person_id: i64, since: NaiveDate) -> Result<Vec<Application>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM travel_applications a WHERE a.person_id = $1 AND a.status = 'approved' \
             AND a.ends_on >= $2 AND a.extends_id IS NULL ORDER BY a.id"
        ))
        .bind(person_id)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Application::try_from).collect()
    }
}
