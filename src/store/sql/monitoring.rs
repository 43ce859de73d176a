//! Monitoring orders: approved by the county head in scope, one in force per person, renewed,
//! lifted and expired with an event each; their expiry is watched by the scheduler.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{lock_persons, prefixed, push_scope, unique_violation};
use super::episodes::{end_episode, open_alert, NewAlert};
use super::log::append;
use super::{Backend, Db, FOR_UPDATE_SKIP_LOCKED};
use crate::auth::{Actor, Role};
use crate::oversight::{EventKind, NewEvent};
use crate::settings::Policy;
use crate::store::MonitoringStore;
use crate::supervision::{
    latest_end, AlertKind, Evidence, Ground, Lifting, MonitoringOrder, MonitoringOrderRequest, OrderStatus, Renewal,
};
use crate::{Error, Result};

const ORDER_COLUMNS: &str = "id, person_id, ground, reason, starts_at, ends_at, renewals, lifted_at, lift_reason, \
     expired_at, approved_by, created_at";

#[derive(FromRow)]
struct OrderRow {
    id: i64,
    person_id: i64,
    ground: String,
    reason: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    renewals: i64,
    lifted_at: Option<DateTime<Utc>>,
    lift_reason: Option<String>,
    expired_at: Option<DateTime<Utc>>,
    approved_by: i64,
    created_at: DateTime<Utc>,
}

impl OrderRow {
    fn into_order(self, now: DateTime<Utc>) -> Result<MonitoringOrder> {
        let ground = Ground::parse(&self.ground)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("order {}: bad ground in the database", self.id)))?;
        let status = match (self.lifted_at, self.expired_at) {
            (Some(_), _) => OrderStatus::Lifted,
            (None, Some(_)) => OrderStatus::Expired,
            _ if self.starts_at > now => OrderStatus::Pending,
            _ => OrderStatus::Active,
        };
        Ok(MonitoringOrder {
            id: self.id,
            person_id: self.person_id,
            ground,
            reason: self.reason,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            renewals: self.renewals,
            status,
            lifted_at: self.lifted_at,
            lift_reason: self.lift_reason,
            expired_at: self.expired_at,
            approved_by: self.approved_by,
            created_at: self.created_at,
        })
    }
}

/// The person's county for a county head in scope; only county heads decide on orders.
async fn approver_person(tx: &mut Transaction<'_, Db>, actor: &Actor, person_id: i64) -> Result<String> {
    // Locked first: two decisions on one person's orders queue, and each reads the order after.
    lock_persons(tx, &[person_id]).await?;
    let mut q = QueryBuilder::<Db>::new("SELECT p.county, p.ended_on IS NOT NULL FROM persons p WHERE p.id = ");
    q.push_bind(person_id);
    push_scope(&mut q, actor)?;
    let (county, ended): (String, bool) =
        q.build_query_as().fetch_optional(&mut **tx).await?.ok_or(Error::NotFound("person"))?;
    if actor.role != Role::CountyHead {
        return Err(Error::Forbidden("monitoring orders are approved by the county head (county_head)".into()));
    }
    if ended {
        return Err(Error::Conflict("supervision of this person has ended".into()));
    }
    Ok(county)
}

async fn order(tx: &mut Transaction<'_, Db>, person_id: i64, id: i64) -> Result<OrderRow> {
    let row: Option<OrderRow> =
        sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM monitoring_orders WHERE id = $1 AND person_id = $2"))
            .bind(id)
            .bind(person_id)
            .fetch_optional(&mut **tx)
            .await?;
    row.ok_or(Error::NotFound("monitoring order"))
}

fn require_in_force(row: &OrderRow) -> Result<()> {
    match (row.lifted_at, row.expired_at) {
        (None, None) => Ok(()),
        (Some(_), _) => Err(Error::Conflict("the order has been lifted".into())),
        (None, Some(_)) => Err(Error::Conflict("the order has expired: approve a new one".into())),
    }
}

#[async_trait]
impl MonitoringStore for Backend {
    async fn create_order(
        &self,
        actor: &Actor,
        person_id: i64,
        request: &MonitoringOrderRequest,
        at: DateTime<Utc>,
    ) -> Result<MonitoringOrder> {
        let mut tx = self.begin_write().await?;
        let county = approver_person(&mut tx, actor, person_id).await?;
        let row: OrderRow = sqlx::query_as(&format!(
            "INSERT INTO monitoring_orders (person_id, ground, reason, starts_at, ends_at, approved_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ORDER_COLUMNS}"
        ))
        .bind(person_id)
        .bind(request.ground.as_str())
        .bind(request.reason.trim())
        .bind(request.starts_at)
        .bind(request.ends_at)
        .bind(actor.user_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            true => Error::Conflict("an order is already in force for this person: renew or lift it".into()),
            false => e.into(),
        })?;
        let data = json!({
            "order_id": row.id, "ground": request.ground, "reason": request.reason.trim(),
            "starts_at": request.starts_at, "ends_at": request.ends_at,
        });
        let event = NewEvent::new(EventKind::MonitoringOrderCreated, &county, actor.label(), data).about(person_id);
        append(&mut tx, &event, at).await?;
        tx.commit().await?;
        row.into_order(at)
    }

    async fn orders(&self, actor: &Actor, person_id: i64, now: DateTime<Utc>) -> Result<Vec<MonitoringOrder>> {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM monitoring_orders o JOIN persons p ON p.id = o.person_id WHERE o.person_id = ",
            prefixed(ORDER_COLUMNS, "o")
        ));
        q.push_bind(person_id);
        push_scope(&mut q, actor)?;
        q.push(" ORDER BY o.id");
        let rows: Vec<OrderRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(|r| r.into_order(now)).collect()
    }

    async fn renew_order(
        &self,
        actor: &Actor,
        person_id: i64,
        id: i64,
        renewal: &Renewal,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<MonitoringOrder> {
        let mut tx = self.begin_write().await?;
        let county = approver_person(&mut tx, actor, person_id).await?;
        let current = order(&mut tx, person_id, id).await?;
        require_in_force(&current)?;
        if renewal.ends_at <= current.ends_at || renewal.ends_at > latest_end(current.ends_at, policy) {
            let months = policy.monitoring_order_max_months;
            let detail = format!("must be after the current end and at most {months} months beyond it");
            return Err(Error::invalid("ends_at", detail));
        }
        sqlx::query(
            "UPDATE monitoring_orders SET ends_at = $1, renewals = renewals + 1, expiry_warned = $2 WHERE id = $3",
        )
        .bind(renewal.ends_at)
        .bind(false)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        end_episode(&mut tx, person_id, &county, AlertKind::MonitoringOrderExpiring, at, at).await?;
        let data = json!({
            "order_id": id, "previous_ends_at": current.ends_at, "ends_at": renewal.ends_at,
            "reason": renewal.reason.trim(),
        });
        let event = NewEvent::new(EventKind::MonitoringOrderRenewed, &county, actor.label(), data).about(person_id);
        append(&mut tx, &event, at).await?;
        let row = order(&mut tx, person_id, id).await?;
        tx.commit().await?;
        row.into_order(at)
    }

    async fn lift_order(
        &self,
        actor: &Actor,
        person_id: i64,
        id: i64,
        lifting: &Lifting,
        at: DateTime<Utc>,
    ) -> Result<MonitoringOrder> {
        let mut tx = self.begin_write().await?;
        let county = approver_person(&mut tx, actor, person_id).await?;
        let current = order(&mut tx, person_id, id).await?;
        if current.lifted_at.is_some() && current.lift_reason.as_deref() == Some(lifting.reason.trim()) {
            return current.into_order(at);
        }
        require_in_force(&current)?;
        sqlx::query("UPDATE monitoring_orders SET lifted_at = $1, lift_reason = $2 WHERE id = $3")
            .bind(at)
            .bind(lifting.reason.trim())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        end_episode(&mut tx, person_id, &county, AlertKind::MonitoringOrderExpiring, at, at).await?;
        let data = json!({ "order_id": id, "reason": lifting.reason.trim() });
        let event = NewEvent::new(EventKind::MonitoringOrderLifted, &county, actor.label(), data).about(person_id);
        append(&mut tx, &event, at).await?;
        let row = order(&mut tx, person_id, id).await?;
        tx.commit().await?;
        row.into_order(at)
    }

    async fn watch_monitoring_orders(&self, now: DateTime<Utc>, policy: &Policy) -> Result<(usize, usize)> {
        let mut tx = self.begin_write().await?;
        let warn_from = now + Duration::days(policy.monitoring_expiry_warn_days.into());
        let due: Vec<(i64, i64, DateTime<Utc>, bool, String)> = sqlx::query_as(&format!(
            "SELECT o.id, o.person_id, o.ends_at, o.expiry_warned, p.county FROM monitoring_orders o \
             JOIN persons p ON p.id = o.person_id WHERE o.lifted_at IS NULL AND o.expired_at IS NULL \
             AND p.ended_on IS NULL AND (o.ends_at <= $1 OR (o.ends_at <= $2 AND o.expiry_warned = $3)) \
             ORDER BY o.id{FOR_UPDATE_SKIP_LOCKED}"
        ))
        .bind(now)
        .bind(warn_from)
        .bind(false)
        .fetch_all(&mut *tx)
        .await?;
        let (mut warned, mut expired) = (0, 0);
        for (id, person, ends_at, was_warned, county) in &due {
            if *ends_at <= now {
                sqlx::query("UPDATE monitoring_orders SET expired_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                end_episode(&mut tx, *person, county, AlertKind::MonitoringOrderExpiring, now, now).await?;
                let data = json!({ "order_id": id, "ends_at": ends_at });
                append(
                    &mut tx,
                    &NewEvent::new(EventKind::MonitoringOrderExpired, county, "system", data).about(*person),
                    now,
                )
                .await?;
                expired += 1;
            } else if !was_warned {
                sqlx::query("UPDATE monitoring_orders SET expiry_warned = $1 WHERE id = $2")
                    .bind(true)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let evidence = Evidence {
                    monitoring_order_id: Some(*id),
                    detail: Some(format!("the order ends at {ends_at}: renew it after assessment, or let it end")),
                    ..Evidence::default()
                };
                let new = NewAlert {
                    person_id: *person,
                    county,
                    kind: AlertKind::MonitoringOrderExpiring,
                    opened_at: now,
                    ended_at: None,
                    retrospective: false,
                    evidence: &evidence,
                    actor: "system",
                };
                warned += usize::from(open_alert(&mut tx, &new, now, policy).await?.is_some());
            }
        }
        tx.commit().await?;
        Ok((warned, expired))
    }
}
