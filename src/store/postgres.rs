//! The PostgreSQL backend for production: several service instances share one database, and
//! everything that must happen once is serialised by row locks and unique keys in it.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{FromRow, Pool, Transaction};

use chrono::{DateTime, Utc};

use crate::checkin::{Batch, Fix};
use crate::Result;
use fixes::Key;

pub type Db = sqlx::Postgres;

/// Row locks on persons (`p`) before a write. Every transaction that changes a person's alerts
/// locks the person first (the check-in writer all its persons, in id order), then alerts, and
/// appends to the oversight log last: one order everywhere, so no two transactions wait on each
/// other in a circle. `NO KEY` does not conflict with the key-share locks of foreign keys.
const FOR_UPDATE: &str = " FOR NO KEY UPDATE OF p";
/// The scheduler's jobs lock the persons they act on without waiting: a person being written
/// right now is taken up at the next run, and a job never holds one lock while waiting for
/// another.
const FOR_UPDATE_SKIP_LOCKED: &str = " FOR NO KEY UPDATE OF p SKIP LOCKED";

pub struct Backend {
    read: Pool<Db>,
    write: Pool<Db>,
}

impl Backend {
    pub async fn open(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Backend { read: pool.clone(), write: pool })
    }
}

impl Backend {
    /// A write transaction that gives up on a lock held elsewhere for more than ten seconds,
    /// rather than stalling everything queued behind it.
    async fn begin_write(&self) -> Result<Transaction<'static, Db>> {
        let mut tx = self.write.begin().await?;
        sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *tx).await?;
        Ok(tx)
    }
}

/// Inserts `chunk` from one array per column (`UNNEST`): a short statement prepared once, with
/// binary arrays, instead of thousands of parameters to parse; skips stored keys; answers how
/// many rows went in and, with `returning`, their keys. Rows go in the chunk's order.
async fn insert_fixes(
    conn: &mut sqlx::PgConnection,
    chunk: &[(&Batch, &Fix)],
    returning: bool,
) -> Result<(usize, Vec<Key>)> {
    const INSERT: &str =
        "INSERT INTO fixes (person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, \
         wgs_lat, accuracy_m, adcode, placement, edge_distance_m) SELECT * FROM UNNEST($1::int8[], $2::int8[], \
         $3::text[], $4::timestamptz[], $5::timestamptz[], $6::float8[], $7::float8[], $8::text[], $9::float8[], \
         $10::float8[], $11::float8[], $12::text[], $13::text[], $14::float8[]) \
         ON CONFLICT (person_id, at, client_id) DO NOTHING";
    let column = |f: &dyn Fn(&(&Batch, &Fix)) -> f64| chunk.iter().map(f).collect::<Vec<f64>>();
    let sql = if returning { format!("{INSERT} RETURNING person_id, client_id, at") } else { INSERT.to_owned() };
    let q = sqlx::query(&sql)
        .bind(chunk.iter().map(|(b, _)| b.person_id).collect::<Vec<i64>>())
        .bind(chunk.iter().map(|(b, _)| b.device_id).collect::<Vec<i64>>())
        .bind(chunk.iter().map(|(_, f)| f.client_id.clone()).collect::<Vec<String>>())
        .bind(chunk.iter().map(|(_, f)| f.at).collect::<Vec<DateTime<Utc>>>())
        .bind(chunk.iter().map(|(b, _)| b.received_at).collect::<Vec<DateTime<Utc>>>())
        .bind(column(&|(_, f)| f.lon))
        .bind(column(&|(_, f)| f.lat))
        .bind(chunk.iter().map(|(_, f)| f.crs.as_str().to_owned()).collect::<Vec<String>>())
        .bind(column(&|(_, f)| f.wgs.0))
        .bind(column(&|(_, f)| f.wgs.1))
        .bind(column(&|(_, f)| f.accuracy_m))
        .bind(chunk.iter().map(|(_, f)| f.adcode.clone()).collect::<Vec<Option<String>>>())
        .bind(chunk.iter().map(|(_, f)| fixes::placement(f.placement).to_owned()).collect::<Vec<String>>())
        .bind(column(&|(_, f)| f.edge_distance_m));
    if returning {
        let rows = q.fetch_all(conn).await?;
        let keys = rows.iter().map(Key::from_row).collect::<std::result::Result<Vec<Key>, _>>()?;
        Ok((keys.len(), keys))
    } else {
        Ok((q.execute(conn).await?.rows_affected() as usize, Vec::new()))
    }
}

#[path = "sql/accounts.rs"]
mod accounts;
#[path = "sql/alerts.rs"]
mod alerts;
#[path = "sql/cases.rs"]
mod cases;
#[path = "sql/casework.rs"]
mod casework;
#[path = "sql/common.rs"]
mod common;
#[path = "sql/consultations.rs"]
mod consultations;
#[path = "sql/deliveries.rs"]
mod deliveries;
#[path = "sql/devices.rs"]
mod devices;
#[path = "sql/episodes.rs"]
mod episodes;
#[path = "sql/fixes.rs"]
mod fixes;
#[path = "sql/jobs.rs"]
mod jobs;
#[path = "sql/log.rs"]
mod log;
#[path = "sql/monitoring.rs"]
mod monitoring;
#[path = "sql/opinions.rs"]
mod opinions;
#[path = "sql/summary.rs"]
mod summary;
#[path = "sql/supervise.rs"]
mod supervise;
#[path = "sql/tags.rs"]
mod tags;
#[path = "sql/track.rs"]
mod track;
#[path = "sql/travel.rs"]
mod travel;
#[path = "sql/webhooks.rs"]
mod webhooks;
#[path = "sql/zones.rs"]
mod zones;
