//! Track reads: a person's fixes over a period, for a stated purpose, each read recorded in the
//! oversight log in the same transaction (no read without its record).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder};

use super::common::push_scope;
use super::log::append;
use super::{Backend, Db};
use crate::auth::Actor;
use crate::oversight::{EventKind, NewEvent};
use crate::store::{TrackFix, TrackQuery, TrackStore};
use crate::{Error, Result};

#[derive(FromRow)]
struct FixRow {
    id: i64,
    client_id: String,
    at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    lon: f64,
    lat: f64,
    crs: String,
    wgs_lon: f64,
    wgs_lat: f64,
    accuracy_m: f64,
    adcode: Option<String>,
    placement: String,
    edge_distance_m: f64,
}

#[async_trait]
impl TrackStore for Backend {
    async fn read_track(&self, actor: &Actor, query: &TrackQuery, at: DateTime<Utc>) -> Result<Vec<TrackFix>> {
        let mut tx = self.begin_write().await?;
        let mut q = QueryBuilder::<Db>::new("SELECT p.county FROM persons p WHERE p.id = ");
        q.push_bind(query.person_id);
        push_scope(&mut q, actor)?;
        let county: Option<String> = q.build_query_scalar().fetch_optional(&mut *tx).await?;
        let county = county.ok_or(Error::NotFound("person"))?;
        let mut q = QueryBuilder::<Db>::new(
            "SELECT id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat, accuracy_m, adcode, placement, \
             edge_distance_m FROM fixes WHERE person_id = ",
        );
        q.push_bind(query.person_id).push(" AND at >= ").push_bind(query.from).push(" AND at < ").push_bind(query.to);
        if let Some((after_at, after_id)) = query.after {
            q.push(" AND (at > ").push_bind(after_at).push(" OR (at = ").push_bind(after_at);
            q.push(" AND id > ").push_bind(after_id).push("))");
        }
        q.push(" ORDER BY at, id LIMIT ").push_bind(query.limit);
        let rows: Vec<FixRow> = q.build_query_as().fetch_all(&mut *tx).await?;
        // The record names who read what, when and why, never where the person was.
        let data = json!({
            "from": query.from, "to": query.to, "purpose": query.purpose, "fixes": rows.len(),
            "role": actor.role.as_str(),
        });
        append(&mut tx, &NewEvent::new(EventKind::TrackRead, &county, actor.label(), data).about(query.person_id), at)
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| TrackFix {
                row: r.id,
                id: r.client_id,
                at: r.at,
                received_at: r.received_at,
                lon: r.wgs_lon,
                lat: r.wgs_lat,
                accuracy_m: r.accuracy_m,
                adcode: r.adcode,
                placement: r.placement,
                edge_distance_m: r.edge_distance_m,
                sent: json!({"lon": r.lon, "lat": r.lat, "crs": r.crs}),
            })
            .collect())
    }
}
