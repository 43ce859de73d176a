//! Fixes: many uploads in one transaction, multi-row inserts, duplicates recognised by the
//! unique (person, client fix id, position time); the new ones go through the supervision loop
//! in the same transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Transaction};

use super::supervise::{supervise, tag_events};
use super::{Backend, Db};
use crate::checkin::{Batch, Stored};
use crate::geofence::Placement;
use crate::settings::Policy;
use crate::store::FixStore;
use crate::Result;

/// Rows per INSERT: 15 parameters each stays far below SQLite's limit of 32,766.
const ROWS: usize = 500;

fn placement(p: Placement) -> &'static str {
    match p {
        Placement::Inside => "inside",
        Placement::Uncertain => "uncertain",
        Placement::Outside => "outside",
    }
}

/// Stores one upload; answers what it did and which fixes (by position) were new.
async fn store_batch(tx: &mut Transaction<'_, Db>, batch: &Batch) -> Result<(Stored, Vec<usize>)> {
    // Rows go in key order, so that concurrent writers (several instances on PostgreSQL) take
    // row locks in the same order and cannot deadlock on each other.
    let mut order: Vec<usize> = (0..batch.fixes.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (&batch.fixes[a], &batch.fixes[b]);
        (fa.client_id.as_str(), fa.at).cmp(&(fb.client_id.as_str(), fb.at))
    });
    let mut inserted: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    for chunk in order.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO fixes (person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat, \
             accuracy_m, adcode, placement, edge_distance_m) ",
        );
        q.push_values(chunk.iter().map(|&i| &batch.fixes[i]), |mut row, f| {
            row.push_bind(batch.person_id)
                .push_bind(batch.device_id)
                .push_bind(f.client_id.clone())
                .push_bind(f.at)
                .push_bind(batch.received_at)
                .push_bind(f.lon)
                .push_bind(f.lat)
                .push_bind(f.crs.as_str())
                .push_bind(f.wgs.0)
                .push_bind(f.wgs.1)
                .push_bind(f.accuracy_m)
                .push_bind(f.adcode.clone())
                .push_bind(placement(f.placement))
                .push_bind(f.edge_distance_m);
        });
        q.push(" ON CONFLICT (person_id, client_id, at) DO NOTHING RETURNING client_id, at");
        let rows: Vec<(String, DateTime<Utc>)> = q.build_query_as().fetch_all(&mut **tx).await?;
        inserted.extend(rows);
    }
    // The first occurrence that the insert returned is the accepted one; anything else with the
    // same key is compared with what is stored, looked up in one query per chunk.
    let mut seen: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    let mut others = Vec::new();
    let mut stored = Stored::default();
    let mut new = Vec::new();
    for (i, f) in batch.fixes.iter().enumerate() {
        if seen.insert((f.client_id.as_str(), f.at)) && inserted.contains(&(f.client_id.clone(), f.at)) {
            stored.accepted += 1;
            new.push(i);
        } else {
            others.push(i);
        }
    }
    for chunk in others.chunks(ROWS) {
        let mut q =
            QueryBuilder::<Db>::new("SELECT client_id, at, lon, lat, crs, accuracy_m FROM fixes WHERE person_id = ");
        q.push_bind(batch.person_id).push(" AND client_id IN (");
        let mut ids = q.separated(", ");
        for &i in chunk {
            ids.push_bind(batch.fixes[i].client_id.clone());
        }
        q.push(")");
        let rows: Vec<(String, DateTime<Utc>, f64, f64, String, f64)> = q.build_query_as().fetch_all(&mut **tx).await?;
        for &i in chunk {
            let f = &batch.fixes[i];
            let same = rows
                .iter()
                .find(|r| r.0 == f.client_id && r.1 == f.at)
                .is_some_and(|r| f.same_content(r.2, r.3, &r.4, r.5));
            if same {
                stored.duplicates += 1;
            } else {
                stored.conflicts.push(i);
            }
        }
    }
    Ok((stored, new))
}

#[async_trait]
impl FixStore for Backend {
    async fn store_fixes(&self, batches: &[Batch], policy: &Policy) -> Result<Vec<Stored>> {
        let mut tx = self.begin_write().await?;
        // Persons in ascending order, for the same lock order as within a batch.
        let mut order: Vec<usize> = (0..batches.len()).collect();
        order.sort_by_key(|&i| batches[i].person_id);
        let mut results = vec![Stored::default(); batches.len()];
        for i in order {
            let (stored, new) = store_batch(&mut tx, &batches[i]).await?;
            let state = supervise(&mut tx, &batches[i], &new, policy).await?;
            let (events_accepted, events_duplicates) = tag_events(&mut tx, &batches[i], policy).await?;
            results[i] = Stored { state, events_accepted, events_duplicates, ..stored };
        }
        tx.commit().await?;
        Ok(results)
    }
}
