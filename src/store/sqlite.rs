//! The embedded SQLite backend: WAL, foreign keys, full sync, a busy timeout. All writes go
//! through one connection (SQLite has one writer anyway; queueing them in-process avoids
//! SQLITE_BUSY on lock upgrades), reads through a pool of read-only connections.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, QueryBuilder, Transaction};

use crate::checkin::{Batch, Fix};
use crate::Result;
use fixes::Key;

pub type Db = sqlx::Sqlite;

/// Row locks on persons (`p`) before a write: none needed, each writer holds the database lock.
const FOR_UPDATE: &str = "";
/// The same for the scheduler's jobs.
const FOR_UPDATE_SKIP_LOCKED: &str = "";

pub struct Backend {
    read: Pool<Db>,
    write: Pool<Db>,
}

impl Backend {
    pub async fn open(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let in_memory = options.get_filename().as_os_str() == ":memory:";
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating database directory {}: {e}", dir.display()))?;
        }
        // The writer keeps the hot part of the fixes indexes in memory (64 MiB).
        let writer = options.clone().pragma("cache_size", "-65536");
        let write = SqlitePoolOptions::new().max_connections(1).connect_with(writer).await?;
        sqlx::migrate!("migrations/sqlite").run(&write).await?;
        // An in-memory database exists once per connection: it must read where it writes.
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new().max_connections(8).connect_with(options.read_only(true)).await?
        };
        Ok(Backend { read, write })
    }
}

impl Backend {
    /// Takes the write lock at BEGIN, so that another process writing the same file (a CLI
    /// command beside the server) makes this one wait instead of failing on a lock upgrade.
    async fn begin_write(&self) -> Result<Transaction<'static, Db>> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Inserts `chunk` with one multi-row statement, skipping stored keys; answers how many rows
/// went in and, with `returning`, their keys.
async fn insert_fixes(
    conn: &mut sqlx::SqliteConnection,
    chunk: &[(&Batch, &Fix)],
    returning: bool,
) -> Result<(usize, Vec<Key>)> {
    let mut q = QueryBuilder::<Db>::new(
        "INSERT INTO fixes (person_id, device_id, client_id, at, received_at, lon, lat, crs, wgs_lon, wgs_lat, \
         accuracy_m, adcode, placement, edge_distance_m) ",
    );
    q.push_values(chunk, |mut row, (b, f)| {
        row.push_bind(b.person_id)
            .push_bind(b.device_id)
            .push_bind(f.client_id.as_str())
            .push_bind(f.at)
            .push_bind(b.received_at)
            .push_bind(f.lon)
            .push_bind(f.lat)
            .push_bind(f.crs.as_str())
            .push_bind(f.wgs.0)
            .push_bind(f.wgs.1)
            .push_bind(f.accuracy_m)
            .push_bind(f.adcode.as_deref())
            .push_bind(fixes::placement(f.placement))
            .push_bind(f.edge_distance_m);
    });
    q.push(" ON CONFLICT (person_id, at, client_id) DO NOTHING");
    if returning {
        q.push(" RETURNING person_id, client_id, at");
        let keys: Vec<Key> = q.build_query_as().fetch_all(conn).await?;
        Ok((keys.len(), keys))
    } else {
        Ok((q.build().execute(conn).await?.rows_affected() as usize, Vec::new()))
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
