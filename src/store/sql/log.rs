//! The oversight log's one append function and its unfiltered reader.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, Transaction};

use super::{Backend, Db};
use crate::oversight::{Event, NewEvent, GENESIS};
use crate::store::LogStore;
use crate::Result;

/// Appends `new` inside the caller's transaction: it commits, or vanishes, with the change it
/// records. Bumping the head row takes the write lock (SQLite) or the row lock (PostgreSQL)
/// until commit, so `seq` is gapless and in commit order and each county's previous hash is
/// the one just committed.
pub(super) async fn append(tx: &mut Transaction<'_, Db>, new: &NewEvent, at: DateTime<Utc>) -> Result<Event> {
    let seq: i64 = sqlx::query_scalar("UPDATE oversight_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut **tx)
        .await?;
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM oversight_events WHERE county = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&new.county)
            .fetch_optional(&mut **tx)
            .await?;
    let event = Event::seal(new, seq, at, prev.as_deref().unwrap_or(GENESIS));
    sqlx::query(
        "INSERT INTO oversight_events (seq, at, kind, county, person_id, actor, data, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(event.seq)
    .bind(event.at)
    .bind(&event.kind)
    .bind(&event.county)
    .bind(event.person_id)
    .bind(&event.actor)
    .bind(&event.data)
    .bind(&event.prev_hash)
    .bind(&event.hash)
    .execute(&mut **tx)
    .await?;
    Ok(event)
}

#[derive(FromRow)]
struct EventRow {
    seq: i64,
    at: DateTime<Utc>,
    kind: String,
    county: String,
    person_id: Option<i64>,
    actor: String,
    data: String,
    prev_hash: String,
    hash: String,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            seq: r.seq,
            at: r.at,
            kind: r.kind,
            county: r.county,
            person_id: r.person_id,
            actor: r.actor,
            data: r.data,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[async_trait]
impl LogStore for Backend {
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, at, kind, county, person_id, actor, data, prev_hash, hash \
             FROM oversight_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    async fn log_head(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT seq FROM oversight_head WHERE id = 1").fetch_one(&self.read).await?)
    }
}
