//! The oversight log's one append function and its unfiltered reader.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::{Backend, Db};
use crate::oversight::{Event, EventKind, Jurisdiction, LogPage, NewEvent, GENESIS};
use crate::store::LogStore;
use crate::{Error, Result};

const EVENT_COLUMNS: &str = "seq, at, kind, county, person_id, actor, data, prev_hash, hash";

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

/// The last `seq` handed out (committed), read on `conn`.
pub(super) async fn head<'c>(conn: impl sqlx::Executor<'c, Database = Db>) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT seq FROM oversight_head WHERE id = 1").fetch_one(conn).await?)
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
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM oversight_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    async fn log_head(&self) -> Result<i64> {
        head(&self.read).await
    }

    async fn log_page(&self, scope: &Jurisdiction, kinds: &[EventKind], after: i64, limit: i64) -> Result<LogPage> {
        // Every seq up to the head read first has committed (seq is handed out in commit order),
        // so a page bounded by it never skips an event that commits later.
        let head = self.log_head().await?;
        if after < 0 {
            return Err(Error::invalid("after", "must not be negative"));
        }
        if after > head {
            return Err(Error::invalid("after", format!("{after} lies beyond the end of the log ({head})")));
        }
        // One indexed range per chain, each cut at `limit`, then merged: an IN list over the
        // chains would read every event of the city up to the head and sort them for each page.
        let mut q = QueryBuilder::<Db>::new(format!("SELECT {EVENT_COLUMNS} FROM ("));
        let filters: Vec<Option<&str>> = match scope {
            Jurisdiction::Chains(chains) => chains.iter().map(|c| Some(c.as_str())).collect(),
            Jurisdiction::Office(_) => vec![None],
        };
        for (i, county) in filters.into_iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push(format!("SELECT * FROM (SELECT {EVENT_COLUMNS} FROM oversight_events WHERE seq > "));
            q.push_bind(after).push(" AND seq <= ").push_bind(head);
            match (county, scope) {
                (Some(county), _) => q.push(" AND county = ").push_bind(county.to_owned()),
                (None, Jurisdiction::Office(office)) => q
                    .push(" AND person_id IN (SELECT id FROM persons WHERE office_id = ")
                    .push_bind(office.clone())
                    .push(")"),
                (None, Jurisdiction::Chains(_)) => &mut q,
            };
            if !kinds.is_empty() {
                q.push(" AND kind IN (");
                let mut list = q.separated(", ");
                for k in kinds {
                    list.push_bind(k.as_str());
                }
                q.push(")");
            }
            q.push(" ORDER BY seq LIMIT ").push_bind(limit).push(format!(") c{i}"));
        }
        q.push(") chains ORDER BY seq LIMIT ").push_bind(limit);
        let rows: Vec<EventRow> = q.build_query_as().fetch_all(&self.read).await?;
        let events: Vec<Event> = rows.into_iter().map(Event::from).collect();
        let next = match events.last() {
            Some(last) if events.len() as i64 == limit => last.seq,
            _ => head,
        };
        Ok(LogPage { events, next, head })
    }

    async fn first_missing_seq(&self, head: i64) -> Result<Option<i64>> {
        // Rows are never deleted by the service: a missing seq means the table was edited.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oversight_events WHERE seq <= $1")
            .bind(head)
            .fetch_one(&self.read)
            .await?;
        if count == head {
            return Ok(None);
        }
        let first: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(s) FROM (SELECT 1 AS s WHERE NOT EXISTS (SELECT 1 FROM oversight_events WHERE seq = 1) \
             UNION ALL SELECT e.seq + 1 FROM oversight_events e WHERE e.seq < $1 \
             AND NOT EXISTS (SELECT 1 FROM oversight_events n WHERE n.seq = e.seq + 1)) gaps",
        )
        .bind(head)
        .fetch_one(&self.read)
        .await?;
        Ok(first.or(Some(1)))
    }
}
