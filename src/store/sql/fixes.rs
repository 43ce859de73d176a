//! Fixes: a whole group of uploads in one transaction, with statements that cover the group
//! (multi-row inserts, one lookup per concern) because each statement round trip costs more than
//! the rows it carries. Duplicates are recognised by the unique (person, client fix id, position
//! time); the new fixes go through the supervision loop in the same transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Acquire, FromRow, QueryBuilder, Transaction};

use super::common::lock_persons;
use super::supervise::supervise;
use super::tags::tag_events;
use super::{insert_fixes, Backend, Db};
use crate::checkin::{Batch, Fix, Stored};
use crate::geofence::Placement;
use crate::settings::Policy;
use crate::store::{FixStore, LastPosition};
use crate::Result;

/// Rows per INSERT: 14 parameters each stays below SQLite's limit of 32,766 (PostgreSQL's is
/// 65,535); fewer, larger statements cost less than many small ones.
const ROWS: usize = 2000;

/// A fix's identity: person, the device's id for it, position time.
pub(super) type Key = (i64, String, DateTime<Utc>);

pub(super) fn placement(p: Placement) -> &'static str {
    match p {
        Placement::Inside => "inside",
        Placement::Uncertain => "uncertain",
        Placement::Outside => "outside",
    }
}

/// Inserts every fix of the group that is new; answers the keys inserted.
///
/// Almost every upload is new, so each chunk is first inserted without `RETURNING` (decoding
/// the returned keys cost almost half of the insert): when every row went in, the keys are
/// known. Only when some were stored before (retries) is the chunk rolled back to its savepoint
/// and inserted again, returning exactly the keys that are new.
async fn insert_all(tx: &mut Transaction<'_, Db>, batches: &[Batch]) -> Result<HashSet<Key>> {
    // Rows go in key order, so that concurrent writers (several instances on PostgreSQL) take
    // index locks in the same order and cannot deadlock on each other.
    let mut rows: Vec<(&Batch, &Fix)> = batches.iter().flat_map(|b| b.fixes.iter().map(move |f| (b, f))).collect();
    rows.sort_by(|(ba, fa), (bb, fb)| {
        (ba.person_id, fa.at, fa.client_id.as_str()).cmp(&(bb.person_id, fb.at, fb.client_id.as_str()))
    });
    let mut inserted = HashSet::new();
    for chunk in rows.chunks(ROWS) {
        let mut attempt = tx.begin().await?;
        let (stored, _) = insert_fixes(&mut attempt, chunk, false).await?;
        if stored == chunk.len() {
            attempt.commit().await?;
            inserted.extend(chunk.iter().map(|(b, f)| (b.person_id, f.client_id.clone(), f.at)));
        } else {
            attempt.rollback().await?;
            inserted.extend(insert_fixes(tx, chunk, true).await?.1);
        }
    }
    Ok(inserted)
}

/// Sorts the fixes that were not inserted into retries (same content as stored) and conflicts
/// (same id and time, another position), one query per person.
async fn classify_others(
    tx: &mut Transaction<'_, Db>,
    batches: &[Batch],
    others: &[(usize, usize)],
    results: &mut [Stored],
) -> Result<()> {
    let mut by_person: HashMap<i64, Vec<(usize, usize)>> = HashMap::new();
    for &(b, f) in others {
        by_person.entry(batches[b].person_id).or_default().push((b, f));
    }
    for (person, fixes) in by_person {
        for chunk in fixes.chunks(ROWS) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT client_id, at, lon, lat, crs, accuracy_m FROM fixes WHERE person_id = ",
            );
            q.push_bind(person);
            push_keys(&mut q, chunk.iter().map(|&(b, f)| &batches[b].fixes[f]).map(|f| (f.client_id.as_str(), f.at)));
            let rows: Vec<(String, DateTime<Utc>, f64, f64, String, f64)> =
                q.build_query_as().fetch_all(&mut **tx).await?;
            for &(b, f) in chunk {
                let fix = &batches[b].fixes[f];
                let same = rows
                    .iter()
                    .find(|r| r.0 == fix.client_id && r.1 == fix.at)
                    .is_some_and(|r| fix.same_content(r.2, r.3, &r.4, r.5));
                if same {
                    results[b].duplicates += 1;
                } else {
                    results[b].conflicts.push(f);
                }
            }
        }
    }
    Ok(())
}

/// Pushes ` AND at IN (…) AND client_id IN (…)` for `keys`: the unique index (person, at,
/// client id) finds them without reading the person's other fixes; callers match exact pairs.
pub(super) fn push_keys<'k>(
    q: &mut QueryBuilder<'_, Db>,
    keys: impl Iterator<Item = (&'k str, DateTime<Utc>)> + Clone,
) {
    q.push(" AND at IN (");
    let mut ats = q.separated(", ");
    for (_, at) in keys.clone() {
        ats.push_bind(at);
    }
    q.push(") AND client_id IN (");
    let mut ids = q.separated(", ");
    for (id, _) in keys {
        ids.push_bind(id.to_owned());
    }
    q.push(")");
}

#[derive(FromRow)]
struct Position {
    client_id: String,
    at: DateTime<Utc>,
    wgs_lon: f64,
    wgs_lat: f64,
    accuracy_m: f64,
    adcode: Option<String>,
}

#[async_trait]
impl FixStore for Backend {
    async fn store_fixes(&self, batches: &[Batch], policy: &Policy) -> Result<Vec<Stored>> {
        let mut tx = self.begin_write().await?;
        let persons: Vec<i64> = batches.iter().map(|b| b.person_id).collect();
        lock_persons(&mut tx, &persons).await?;
        let inserted = insert_all(&mut tx, batches).await?;
        // The first occurrence of a key that the insert returned is the accepted one; any other
        // occurrence (a retry, possibly within the same group) is compared with what is stored.
        let mut results = vec![Stored::default(); batches.len()];
        let mut accepted: Vec<Vec<usize>> = vec![Vec::new(); batches.len()];
        let mut claimed: HashSet<Key> = HashSet::new();
        let mut others = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            for (f, fix) in batch.fixes.iter().enumerate() {
                let key = (batch.person_id, fix.client_id.clone(), fix.at);
                if inserted.contains(&key) && claimed.insert(key) {
                    results[b].accepted += 1;
                    accepted[b].push(f);
                } else {
                    others.push((b, f));
                }
            }
        }
        classify_others(&mut tx, batches, &others, &mut results).await?;
        let states = supervise(&mut tx, batches, &accepted, policy).await?;
        for (b, batch) in batches.iter().enumerate() {
            results[b].state = states.get(&batch.person_id).copied().flatten();
            tag_events(&mut tx, batch, policy, &mut results[b]).await?;
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn last_position(&self, person_id: i64) -> Result<Option<LastPosition>> {
        let row: Option<Position> = sqlx::query_as(
            "SELECT client_id, at, wgs_lon, wgs_lat, accuracy_m, adcode FROM fixes WHERE person_id = $1 \
             ORDER BY at DESC LIMIT 1",
        )
        .bind(person_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| LastPosition {
            id: r.client_id,
            at: r.at,
            lon: r.wgs_lon,
            lat: r.wgs_lat,
            accuracy_m: r.accuracy_m,
            adcode: r.adcode,
        }))
    }
}
