//! Exclusion zones, scoped by the actor like the persons they belong to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{lock_persons, push_scope, remember, replayed, resource_id, writable_person};
use super::episodes::{open_alert, NewAlert};
use super::log::append;
use super::{Backend, Db};
use crate::auth::Actor;
use crate::oversight::{EventKind, NewEvent};
use crate::register::{Zone, ZoneRequest};
use crate::settings::Policy;
use crate::store::{Enrolled, IdempotencyKey, ZoneStore};
use crate::supervision::{AlertKind, Evidence};
use crate::{Error, Result};

const ZONE_SELECT: &str = "SELECT z.id, z.person_id, z.name, z.basis, z.geometry, z.crs, z.radius_m, z.valid_from, \
     z.valid_until, z.created_at FROM zones z JOIN persons p ON p.id = z.person_id WHERE ";

#[derive(FromRow)]
struct ZoneRow {
    id: i64,
    person_id: i64,
    name: String,
    basis: String,
    geometry: String,
    crs: String,
    radius_m: Option<f64>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<ZoneRow> for Zone {
    type Error = Error;
    fn try_from(r: ZoneRow) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("zone {}: bad {what} in the database", r.id));
        Ok(Zone {
            id: r.id,
            person_id: r.person_id,
            name: r.name,
            basis: r.basis,
            geometry: serde_json::from_str(&r.geometry).map_err(|_| corrupt("geometry"))?,
            radius_m: r.radius_m,
            crs: r.crs.parse().map_err(|_| corrupt("crs"))?,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            created_at: r.created_at,
        })
    }
}

async fn scoped_zones(
    tx: &mut Transaction<'_, Db>,
    actor: &Actor,
    person_id: i64,
    zone_id: Option<i64>,
) -> Result<Vec<Zone>> {
    let mut q = QueryBuilder::<Db>::new(ZONE_SELECT);
    q.push("z.person_id = ").push_bind(person_id);
    if let Some(id) = zone_id {
        q.push(" AND z.id = ").push_bind(id);
    }
    push_scope(&mut q, actor)?;
    q.push(" ORDER BY z.id");
    let rows: Vec<ZoneRow> = q.build_query_as().fetch_all(&mut **tx).await?;
    rows.into_iter().map(Zone::try_from).collect()
}

#[async_trait]
impl ZoneStore for Backend {
    async fn create_zone(
        &self,
        actor: &Actor,
        person_id: i64,
        zone: &ZoneRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Zone>> {
        let mut tx = self.begin_write().await?;
        let (county, ended) = writable_person(&mut tx, actor, person_id).await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let id = resource_id(&resource, "zone")?;
            let value =
                scoped_zones(&mut tx, actor, person_id, Some(id)).await?.pop().ok_or(Error::NotFound("zone"))?;
            return Ok(Enrolled { value, replayed: true });
        }
        if ended {
            return Err(Error::Conflict("supervision of this person has ended".into()));
        }
        let geometry = serde_json::to_string(&zone.geometry).map_err(|e| anyhow::anyhow!("zone geometry: {e}"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO zones (person_id, name, basis, geometry, crs, radius_m, valid_from, valid_until, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(person_id)
        .bind(zone.name.trim())
        .bind(zone.basis.trim())
        .bind(geometry)
        .bind(zone.crs.as_str())
        .bind(zone.radius_m)
        .bind(zone.valid_from)
        .bind(zone.valid_until)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        remember(&mut tx, idem, &format!("zone:{id}"), at).await?;
        // The log names the place and its basis, never where it is.
        let data = json!({
            "zone_id": id,
            "name": zone.name.trim(),
            "basis": zone.basis.trim(),
            "shape": if zone.radius_m.is_some() { "circle" } else { "polygon" },
            "valid_from": zone.valid_from,
            "valid_until": zone.valid_until,
        });
        append(&mut tx, &NewEvent::new(EventKind::ZoneCreated, &county, actor.label(), data).about(person_id), at)
            .await?;
        let value = scoped_zones(&mut tx, actor, person_id, Some(id)).await?.pop().ok_or(Error::NotFound("zone"))?;
        tx.commit().await?;
        Ok(Enrolled { value, replayed: false })
    }

    async fn zones(&self, actor: &Actor, person_id: i64) -> Result<Vec<Zone>> {
        let mut tx = self.read.begin().await?;
        let zones = scoped_zones(&mut tx, actor, person_id, None).await?;
        tx.commit().await?;
        Ok(zones)
    }

    async fn person_zones(&self, person_id: i64) -> Result<Vec<Zone>> {
        let rows: Vec<ZoneRow> = sqlx::query_as(&format!("{ZONE_SELECT}z.person_id = $1 ORDER BY z.id"))
            .bind(person_id)
            .fetch_all(&self.read)
            .await?;
        rows.into_iter().map(Zone::try_from).collect()
    }

    async fn zones_coming_into_force(&self, now: DateTime<Utc>) -> Result<Vec<(i64, Vec<i64>)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT z.person_id, z.id FROM zones z JOIN persons p ON p.id = z.person_id WHERE z.rejudged = $1 \
             AND (z.valid_from IS NULL OR z.valid_from <= $2) AND p.ended_on IS NULL ORDER BY z.person_id, z.id LIMIT $3",
        )
        .bind(false)
        .bind(now)
        .bind(500)
        .fetch_all(&self.read)
        .await?;
        let mut persons: Vec<(i64, Vec<i64>)> = Vec::new();
        for (person, zone) in rows {
            match persons.last_mut() {
                Some((p, zones)) if *p == person => zones.push(zone),
                _ => persons.push((person, vec![zone])),
            }
        }
        Ok(persons)
    }

    async fn record_rejudged_zones(
        &self,
        person_id: i64,
        zones: &[i64],
        entry: Option<&Evidence>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        lock_persons(&mut tx, &[person_id]).await?;
        let mut q = QueryBuilder::<Db>::new("UPDATE zones SET rejudged = ");
        q.push_bind(true).push(" WHERE rejudged = ").push_bind(false).push(" AND id IN (");
        let mut ids = q.separated(", ");
        for z in zones {
            ids.push_bind(*z);
        }
        q.push(")");
        let marked = q.build().execute(&mut *tx).await?.rows_affected();
        let mut raised = false;
        if let (Some(evidence), true) = (entry, marked > 0) {
            let county: String = sqlx::query_scalar("SELECT county FROM persons WHERE id = $1")
                .bind(person_id)
                .fetch_one(&mut *tx)
                .await?;
            let new = NewAlert::system(person_id, &county, AlertKind::ExclusionZoneEntry, now, evidence);
            raised = open_alert(&mut tx, &new, now, policy).await?.is_some();
        }
        tx.commit().await?;
        Ok(raised)
    }
}
