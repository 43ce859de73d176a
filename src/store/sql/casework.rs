//! Check-in requests, sanctions and the end of supervision, scoped like the persons they are
//! about; each change is an event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder};

use super::common::{prefixed, push_scope, remember, replayed, resource_id, writable_person};
use super::episodes::end_episode;
use super::log::append;
use super::{Backend, Db};
use crate::auth::{Actor, DeviceActor};
use crate::oversight::{EventKind, NewEvent};
use crate::store::{CaseworkStore, Enrolled, IdempotencyKey};
use crate::supervision::{AlertKind, CheckinRequest, Ending, Sanction, SanctionKind, SanctionRequest, SilentPeriod};
use crate::{Error, Result};

/// Why orders and requests closed at the end of supervision.
const SUPERVISION_ENDED: &str = "supervision ended";

const SANCTION_SELECT: &str = "SELECT id, person_id, kind, alert_id, decided_on, reason, created_at FROM sanctions";

const REQUEST_COLUMNS: &str = "id, person_id, requested_at, deadline, answered_at, answer_fix, missed_at, cancelled_at";

#[derive(FromRow)]
struct RequestRow {
    id: i64,
    person_id: i64,
    requested_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    answer_fix: Option<String>,
    missed_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
}

impl From<RequestRow> for CheckinRequest {
    fn from(r: RequestRow) -> Self {
        CheckinRequest {
            id: r.id,
            person_id: r.person_id,
            requested_at: r.requested_at,
            deadline: r.deadline,
            answered_at: r.answered_at,
            answer_fix: r.answer_fix,
            missed_at: r.missed_at,
            cancelled_at: r.cancelled_at,
        }
    }
}

#[derive(FromRow)]
struct SanctionRow {
    id: i64,
    person_id: i64,
    kind: String,
    alert_id: Option<i64>,
    decided_on: NaiveDate,
    reason: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<SanctionRow> for Sanction {
    type Error = Error;
    fn try_from(r: SanctionRow) -> Result<Self> {
        let kind = SanctionKind::parse(&r.kind)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("sanction {}: bad kind in the database", r.id)))?;
        Ok(Sanction {
            id: r.id,
            person_id: r.person_id,
            kind,
            alert_id: r.alert_id,
            decided_on: r.decided_on,
            reason: r.reason,
            created_at: r.created_at,
        })
    }
}

#[async_trait]
impl CaseworkStore for Backend {
    async fn request_checkin(
        &self,
        actor: &Actor,
        person_id: i64,
        deadline: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<CheckinRequest> {
        let mut tx = self.begin_write().await?;
        let (county, ended) = writable_person(&mut tx, actor, person_id).await?;
        if ended {
            return Err(Error::Conflict("supervision of this person has ended".into()));
        }
        let row: RequestRow = sqlx::query_as(&format!(
            "INSERT INTO checkin_requests (person_id, requested_at, deadline, requested_by) \
             VALUES ($1, $2, $3, $4) RETURNING {REQUEST_COLUMNS}"
        ))
        .bind(person_id)
        .bind(at)
        .bind(deadline)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({ "request_id": row.id, "deadline": deadline });
        append(&mut tx, &NewEvent::new(EventKind::CheckinRequested, &county, actor.label(), data).about(person_id), at)
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn checkin_requests(&self, actor: &Actor, person_id: i64) -> Result<Vec<CheckinRequest>> {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM checkin_requests r JOIN persons p ON p.id = r.person_id WHERE r.person_id = ",
            prefixed(REQUEST_COLUMNS, "r")
        ));
        q.push_bind(person_id);
        push_scope(&mut q, actor)?;
        q.push(" ORDER BY r.id DESC LIMIT 200");
        let rows: Vec<RequestRow> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn pending_checkin_requests(&self, device: &DeviceActor) -> Result<Vec<CheckinRequest>> {
        let rows: Vec<RequestRow> = sqlx::query_as(&format!(
            "SELECT {REQUEST_COLUMNS} FROM checkin_requests WHERE person_id = $1 AND answered_at IS NULL \
             AND missed_at IS NULL AND cancelled_at IS NULL ORDER BY id"
        ))
        .bind(device.person_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn record_sanction(
        &self,
        actor: &Actor,
        person_id: i64,
        sanction: &SanctionRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Sanction>> {
        let mut tx = self.begin_write().await?;
        let (county, _) = writable_person(&mut tx, actor, person_id).await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let id = resource_id(&resource, "sanction")?;
            let row: SanctionRow =
                sqlx::query_as(&format!("{SANCTION_SELECT} WHERE id = $1")).bind(id).fetch_one(&mut *tx).await?;
            return Ok(Enrolled { value: row.try_into()?, replayed: true });
        }
        if let Some(alert) = sanction.alert_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE id = $1 AND person_id = $2")
                .bind(alert)
                .bind(person_id)
                .fetch_optional(&mut *tx)
                .await?;
            found.ok_or_else(|| Error::invalid("alert_id", "is not an alert of this person"))?;
        }
        let row: SanctionRow = sqlx::query_as(
            "INSERT INTO sanctions (person_id, kind, alert_id, decided_on, reason, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, person_id, kind, alert_id, decided_on, reason, created_at",
        )
        .bind(person_id)
        .bind(sanction.kind.as_str())
        .bind(sanction.alert_id)
        .bind(sanction.decided_on)
        .bind(sanction.reason.trim())
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({
            "sanction_id": row.id, "kind": sanction.kind, "alert_id": sanction.alert_id,
            "decided_on": sanction.decided_on, "reason": sanction.reason.trim(),
        });
        append(&mut tx, &NewEvent::new(EventKind::SanctionRecorded, &county, actor.label(), data).about(person_id), at)
            .await?;
        remember(&mut tx, idem, &format!("sanction:{}", row.id), at).await?;
        tx.commit().await?;
        Ok(Enrolled { value: row.try_into()?, replayed: false })
    }

    async fn sanctions(&self, actor: &Actor, person_id: i64) -> Result<Vec<Sanction>> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT s.id, s.person_id, s.kind, s.alert_id, s.decided_on, s.reason, s.created_at FROM sanctions s \
             JOIN persons p ON p.id = s.person_id WHERE s.person_id = ",
        );
        q.push_bind(person_id);
        push_scope(&mut q, actor)?;
        q.push(" ORDER BY s.id");
        let rows: Vec<SanctionRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Sanction::try_from).collect()
    }

    async fn silent_periods(&self, actor: &Actor, person_id: i64) -> Result<Vec<SilentPeriod>> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT s.from_at, s.until_at FROM silent_periods s JOIN persons p ON p.id = s.person_id WHERE s.person_id = ",
        );
        q.push_bind(person_id);
        push_scope(&mut q, actor)?;
        q.push(" ORDER BY s.id DESC LIMIT 100");
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = q.build_query_as().fetch_all(&self.read).await?;
        Ok(rows
            .into_iter()
            .map(|(from, until)| SilentPeriod { from, until, hours: (until - from).num_minutes() as f64 / 60.0 })
            .collect())
    }

    async fn end_supervision(&self, actor: &Actor, person_id: i64, ending: &Ending, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let (county, ended) = writable_person(&mut tx, actor, person_id).await?;
        if ended {
            let same: Option<(NaiveDate, Option<String>)> =
                sqlx::query_as("SELECT ended_on, ended_reason FROM persons WHERE id = $1")
                    .bind(person_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return match same {
                Some((on, Some(reason))) if on == ending.on && reason == ending.reason.as_str() => Ok(()),
                _ => Err(Error::Conflict("supervision of this person has already ended".into())),
            };
        }
        sqlx::query("UPDATE persons SET ended_on = $1, ended_reason = $2, state = 'ended' WHERE id = $3")
            .bind(ending.on)
            .bind(ending.reason.as_str())
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        // No more location data is collected: the devices stop working, and nothing runs on.
        let revoked = sqlx::query(
            "UPDATE devices SET revoked_at = $1, revoked_by = $2 WHERE person_id = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(actor.user_id)
        .bind(person_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let cancelled = sqlx::query(
            "UPDATE checkin_requests SET cancelled_at = $1 WHERE person_id = $2 AND answered_at IS NULL \
             AND missed_at IS NULL AND cancelled_at IS NULL",
        )
        .bind(at)
        .bind(person_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let lifted: Vec<i64> = sqlx::query_scalar(
            "UPDATE monitoring_orders SET lifted_at = $1, lift_reason = $2 WHERE person_id = $3 AND lifted_at IS NULL \
             AND expired_at IS NULL RETURNING id",
        )
        .bind(at)
        .bind(SUPERVISION_ENDED)
        .bind(person_id)
        .fetch_all(&mut *tx)
        .await?;
        for order in lifted {
            let data = json!({ "order_id": order, "reason": SUPERVISION_ENDED });
            let event = NewEvent::new(EventKind::MonitoringOrderLifted, &county, actor.label(), data).about(person_id);
            append(&mut tx, &event, at).await?;
        }
        let running: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM alerts WHERE person_id = $1 AND episode_ended_at IS NULL")
                .bind(person_id)
                .fetch_all(&mut *tx)
                .await?;
        for kind in running.iter().filter_map(|k| AlertKind::parse(k)) {
            end_episode(&mut tx, person_id, &county, kind, at, at).await?;
        }
        let data = json!({
            "ended_on": ending.on, "reason": ending.reason, "note": ending.note, "devices_revoked": revoked,
            "checkin_requests_cancelled": cancelled,
        });
        append(&mut tx, &NewEvent::new(EventKind::SupervisionEnded, &county, actor.label(), data).about(person_id), at)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
