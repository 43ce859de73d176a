//! Alerts as officers handle them: listed in scope, acknowledged, resolved and suppressed, each
//! change an event. (Episodes are opened and ended in `episodes`.)

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{lock_persons, push_scope, require_writer};
use super::log::append;
use super::{Backend, Db};
use crate::auth::Actor;
use crate::oversight::{EventKind, NewEvent};
use crate::store::AlertStore;
use crate::supervision::{Alert, AlertFilter, AlertKind, AlertStatus, Disposition};
use crate::{Error, Result};

const ALERT_SELECT: &str = "SELECT a.id, a.person_id, a.kind, a.status, a.retrospective, a.opened_at, \
     a.episode_ended_at, a.raised_at, a.evidence, a.ack_due_at, a.ack_missed_at, a.acknowledged_at, \
     a.acknowledged_by, a.resolved_at, a.resolved_by, a.disposition, a.note, a.suppressed_until, a.suppress_reason \
     FROM alerts a JOIN persons p ON p.id = a.person_id WHERE ";

#[derive(FromRow)]
struct AlertRow {
    id: i64,
    person_id: i64,
    kind: String,
    status: String,
    retrospective: bool,
    opened_at: DateTime<Utc>,
    episode_ended_at: Option<DateTime<Utc>>,
    raised_at: DateTime<Utc>,
    evidence: String,
    ack_due_at: DateTime<Utc>,
    ack_missed_at: Option<DateTime<Utc>>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<i64>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<i64>,
    disposition: Option<String>,
    note: Option<String>,
    suppressed_until: Option<DateTime<Utc>>,
    suppress_reason: Option<String>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = Error;
    fn try_from(r: AlertRow) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("alert {}: bad {what} in the database", r.id));
        Ok(Alert {
            id: r.id,
            person_id: r.person_id,
            kind: AlertKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?,
            status: AlertStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            retrospective: r.retrospective,
            opened_at: r.opened_at,
            episode_ended_at: r.episode_ended_at,
            raised_at: r.raised_at,
            evidence: serde_json::from_str(&r.evidence).map_err(|_| corrupt("evidence"))?,
            ack_due_at: r.ack_due_at,
            ack_missed_at: r.ack_missed_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            disposition: r
                .disposition
                .as_deref()
                .map(|d| Disposition::parse(d).ok_or_else(|| corrupt("disposition")))
                .transpose()?,
            note: r.note,
            suppressed_until: r.suppressed_until,
            suppress_reason: r.suppress_reason,
        })
    }
}

async fn scoped_alert(tx: &mut Transaction<'_, Db>, actor: &Actor, id: i64) -> Result<(Alert, String)> {
    let mut q = QueryBuilder::<Db>::new(ALERT_SELECT.replace(" FROM alerts", ", p.county FROM alerts"));
    q.push("a.id = ").push_bind(id);
    push_scope(&mut q, actor).map_err(|_| Error::NotFound("alert"))?;
    let found: Option<AlertRowWithCounty> = q.build_query_as().fetch_optional(&mut **tx).await?;
    let found = found.ok_or(Error::NotFound("alert"))?;
    Ok((found.alert.try_into()?, found.county))
}

#[derive(FromRow)]
struct AlertRowWithCounty {
    #[sqlx(flatten)]
    alert: AlertRow,
    county: String,
}

/// What an officer does to an alert.
enum Change<'a> {
    Acknowledge { note: Option<&'a str> },
    Resolve { disposition: Disposition, note: &'a str },
    Suppress { reason: &'a str, until: DateTime<Utc> },
}

async fn change(backend: &Backend, actor: &Actor, id: i64, change: Change<'_>, at: DateTime<Utc>) -> Result<Alert> {
    let mut tx = backend.begin_write().await?;
    // The person first, as every writer of alerts does; then the alert as it is now.
    let person: Option<i64> =
        sqlx::query_scalar("SELECT person_id FROM alerts WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    lock_persons(&mut tx, person.as_slice()).await?;
    let (alert, county) = scoped_alert(&mut tx, actor, id).await?;
    require_writer(actor)?;
    let (kind, data) = match change {
        Change::Acknowledge { note } => {
            match alert.status {
                AlertStatus::Open => {}
                // A retried acknowledgement answers with the alert as it is.
                AlertStatus::Acknowledged => return Ok(alert),
                AlertStatus::Resolved => return Err(Error::Conflict("the alert is already resolved".into())),
            }
            sqlx::query(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2, \
                 note = COALESCE($3, note) WHERE id = $4",
            )
            .bind(at)
            .bind(actor.user_id)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let late = at > alert.ack_due_at;
            (EventKind::AlertAcknowledged, json!({ "alert_id": id, "kind": alert.kind, "late": late, "note": note }))
        }
        Change::Resolve { disposition, note } => {
            if alert.status == AlertStatus::Resolved {
                return match (alert.disposition == Some(disposition), alert.note.as_deref() == Some(note)) {
                    (true, true) => Ok(alert),
                    _ => Err(Error::Conflict("the alert is already resolved".into())),
                };
            }
            sqlx::query(
                "UPDATE alerts SET status = 'resolved', resolved_at = $1, resolved_by = $2, disposition = $3, \
                 note = $4, acknowledged_at = COALESCE(acknowledged_at, $1), \
                 acknowledged_by = COALESCE(acknowledged_by, $2) WHERE id = $5",
            )
            .bind(at)
            .bind(actor.user_id)
            .bind(disposition.as_str())
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let data = json!({ "alert_id": id, "kind": alert.kind, "disposition": disposition, "note": note });
            (EventKind::AlertResolved, data)
        }
        Change::Suppress { reason, until } => {
            if alert.status == AlertStatus::Resolved {
                return Err(Error::Conflict("the alert is already resolved".into()));
            }
            sqlx::query(
                "UPDATE alerts SET suppressed_until = $1, suppress_reason = $2, suppressed_by = $3 WHERE id = $4",
            )
            .bind(until)
            .bind(reason)
            .bind(actor.user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            (
                EventKind::AlertSuppressed,
                json!({ "alert_id": id, "kind": alert.kind, "reason": reason, "until": until }),
            )
        }
    };
    append(&mut tx, &NewEvent::new(kind, &county, actor.label(), data).about(alert.person_id), at).await?;
    let (alert, _) = scoped_alert(&mut tx, actor, id).await?;
    tx.commit().await?;
    Ok(alert)
}

#[async_trait]
impl AlertStore for Backend {
    async fn alerts(&self, actor: &Actor, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let mut q = QueryBuilder::<Db>::new(ALERT_SELECT);
        q.push("1 = 1");
        push_scope(&mut q, actor)?;
        if let Some(person) = filter.person_id {
            q.push(" AND a.person_id = ").push_bind(person);
        }
        if let Some(status) = filter.status {
            q.push(" AND a.status = ").push_bind(status.as_str());
        }
        if let Some(kind) = filter.kind {
            q.push(" AND a.kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = filter.before {
            q.push(" AND a.id < ").push_bind(before);
        }
        q.push(" ORDER BY a.id DESC LIMIT ").push_bind(filter.limit);
        let rows: Vec<AlertRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    async fn acknowledge_alert(&self, actor: &Actor, id: i64, note: Option<&str>, at: DateTime<Utc>) -> Result<Alert> {
        change(self, actor, id, Change::Acknowledge { note }, at).await
    }

    async fn resolve_alert(
        &self,
        actor: &Actor,
        id: i64,
        disposition: Disposition,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Alert> {
        change(self, actor, id, Change::Resolve { disposition, note }, at).await
    }

    async fn suppress_alert(
        &self,
        actor: &Actor,
        id: i64,
        reason: &str,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Alert> {
        change(self, actor, id, Change::Suppress { reason, until }, at).await
    }
}
