//! Fixes: many uploads in one transaction, multi-row inserts, duplicates recognised by the
//! unique (person, client fix id, position time).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Transaction};

use super::{Backend, Db};
use crate::checkin::{Batch, Stored};
use crate::geofence::Placement;
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

async fn store_batch(tx: &mut Transaction<'_, Db>, batch: &Batch) -> Result<Stored> {
    let mut inserted: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    for chunk in batch.fixes.chunks(ROWS) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO fixes (person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat, \
             accuracy_m, adcode, placement, edge_distance_m) ",
        );
        q.push_values(chunk, |mut row, f| {
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
    let mut stored = Stored::default();
    let mut seen: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    for (i, f) in batch.fixes.iter().enumerate() {
        // The first occurrence that the insert returned is the accepted one; anything else with
        // the same key is compared with what is stored.
        if seen.insert((f.client_id.as_str(), f.at)) && inserted.contains(&(f.client_id.clone(), f.at)) {
            stored.accepted += 1;
            continue;
        }
        let existing: (f64, f64, String, f64) = sqlx::query_as(
            "SELECT lon, lat, crs, accuracy_m FROM fixes WHERE person_id = $1 AND client_id = $2 AND at = $3",
        )
        .bind(batch.person_id)
        .bind(&f.client_id)
        .bind(f.at)
        .fetch_one(&mut **tx)
        .await?;
        if f.same_content(existing.0, existing.1, &existing.2, existing.3) {
            stored.duplicates += 1;
        } else {
            stored.conflicts.push(i);
        }
    }
    Ok(stored)
}

#[async_trait]
impl FixStore for Backend {
    async fn store_fixes(&self, batches: &[Batch]) -> Result<Vec<Stored>> {
        let mut tx = self.begin_write().await?;
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            results.push(store_batch(&mut tx, batch).await?);
        }
        tx.commit().await?;
        Ok(results)
    }
}
