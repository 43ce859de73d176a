//! Phones and tags: enrolment, revocation and the credentials that authenticate them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{
    lock_persons, push_scope, remember, replayed, require_writer, resource_id, unique_violation, writable_person,
};
use super::log::append;
use super::{Backend, Db};
use crate::auth::{Actor, DeviceKind};
use crate::oversight::{EventKind, NewEvent};
use crate::store::{Device, DeviceCredentials, DeviceStore, Enrolled, IdempotencyKey};
use crate::{Error, Result};

#[derive(FromRow)]
struct DeviceRow {
    id: i64,
    person_id: i64,
    kind: String,
    key_hash: String,
    enrolled_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_fix_at: Option<DateTime<Utc>>,
    county: String,
}

impl TryFrom<DeviceRow> for DeviceCredentials {
    type Error = Error;
    fn try_from(r: DeviceRow) -> Result<Self> {
        let kind = DeviceKind::parse(&r.kind)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("device {}: bad kind in the database", r.id)))?;
        Ok(DeviceCredentials {
            device: Device {
                id: r.id,
                person_id: r.person_id,
                kind,
                enrolled_at: r.enrolled_at,
                revoked_at: r.revoked_at,
                last_fix_at: r.last_fix_at,
            },
            key_hash: r.key_hash,
            county: r.county,
        })
    }
}

const DEVICE_SELECT: &str =
    "SELECT d.id, d.person_id, d.kind, d.key_hash, d.enrolled_at, d.revoked_at, d.last_fix_at, \
     p.county \
     FROM devices d JOIN persons p ON p.id = d.person_id WHERE ";

impl Backend {
    /// A device of a person in the actor's scope, read inside `tx`.
    async fn scoped_device(
        tx: &mut Transaction<'_, Db>,
        actor: &Actor,
        person_id: i64,
        device_id: i64,
    ) -> Result<DeviceCredentials> {
        let mut q = QueryBuilder::<Db>::new(DEVICE_SELECT);
        q.push("d.id = ").push_bind(device_id).push(" AND d.person_id = ").push_bind(person_id);
        push_scope(&mut q, actor).map_err(|_| Error::NotFound("device"))?;
        let row: Option<DeviceRow> = q.build_query_as().fetch_optional(&mut **tx).await?;
        row.map(DeviceCredentials::try_from).transpose()?.ok_or(Error::NotFound("device"))
    }
}

#[async_trait]
impl DeviceStore for Backend {
    async fn enrol_device(
        &self,
        actor: &Actor,
        person_id: i64,
        kind: DeviceKind,
        key_hash: &str,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Device>> {
        let mut tx = self.begin_write().await?;
        let (county, ended) = writable_person(&mut tx, actor, person_id).await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let device = Self::scoped_device(&mut tx, actor, person_id, resource_id(&resource, "device")?).await?;
            return Ok(Enrolled { value: device.device, replayed: true });
        }
        if ended {
            return Err(Error::Conflict("supervision of this person has ended".into()));
        }
        let active: Option<i64> =
            sqlx::query_scalar("SELECT id FROM devices WHERE person_id = $1 AND kind = $2 AND revoked_at IS NULL")
                .bind(person_id)
                .bind(kind.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(active) = active {
            return Err(Error::Conflict(format!(
                "the person already has an active {} (device {active}); revoke it first",
                kind.as_str()
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO devices (person_id, kind, key_hash, enrolled_at, enrolled_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(person_id)
        .bind(kind.as_str())
        .bind(key_hash)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            true => Error::Conflict(format!("the person already has an active {}; revoke it first", kind.as_str())),
            false => e.into(),
        })?;
        remember(&mut tx, idem, &format!("device:{id}"), at).await?;
        let data = json!({"device_id": id, "kind": kind.as_str()});
        let event = NewEvent::new(EventKind::DeviceEnrolled, &county, actor.label(), data).about(person_id);
        append(&mut tx, &event, at).await?;
        tx.commit().await?;
        Ok(Enrolled {
            value: Device { id, person_id, kind, enrolled_at: at, revoked_at: None, last_fix_at: None },
            replayed: false,
        })
    }

    async fn revoke_device(&self, actor: &Actor, person_id: i64, device_id: i64, at: DateTime<Utc>) -> Result<Device> {
        let mut tx = self.begin_write().await?;
        // The person first, as the check-in writer (which updates its devices) does.
        lock_persons(&mut tx, &[person_id]).await?;
        let creds = Self::scoped_device(&mut tx, actor, person_id, device_id).await?;
        require_writer(actor)?;
        if creds.device.revoked_at.is_some() {
            return Ok(creds.device);
        }
        let updated =
            sqlx::query("UPDATE devices SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
                .bind(at)
                .bind(actor.user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            // Revoked by a concurrent request: that one recorded it.
            return Ok(creds.device);
        }
        let data = json!({"device_id": device_id, "kind": creds.device.kind.as_str()});
        let event = NewEvent::new(EventKind::DeviceRevoked, &creds.county, actor.label(), data).about(person_id);
        append(&mut tx, &event, at).await?;
        tx.commit().await?;
        Ok(Device { revoked_at: Some(at), ..creds.device })
    }

    async fn devices(&self, actor: &Actor, person_id: i64) -> Result<Vec<Device>> {
        let mut q = QueryBuilder::<Db>::new(DEVICE_SELECT);
        q.push("d.person_id = ").push_bind(person_id);
        push_scope(&mut q, actor)?;
        q.push(" ORDER BY d.id");
        let rows: Vec<DeviceRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(|r| DeviceCredentials::try_from(r).map(|c| c.device)).collect()
    }

    async fn device_by_key_hash(&self, key_hash: &str) -> Result<Option<DeviceCredentials>> {
        let sql = format!("{DEVICE_SELECT} d.key_hash = $1");
        let row: Option<DeviceRow> = sqlx::query_as(&sql).bind(key_hash).fetch_optional(&self.read).await?;
        row.map(DeviceCredentials::try_from).transpose()
    }

    async fn device_credentials(&self, device_id: i64) -> Result<Option<DeviceCredentials>> {
        let sql = format!("{DEVICE_SELECT} d.id = $1");
        let row: Option<DeviceRow> = sqlx::query_as(&sql).bind(device_id).fetch_optional(&self.read).await?;
        row.map(DeviceCredentials::try_from).transpose()
    }
}
