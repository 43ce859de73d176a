//! The PostgreSQL backend for production: several service instances share one database, and
//! everything that must happen once is serialised by row locks and unique keys in it.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Transaction};

use crate::Result;

pub type Db = sqlx::Postgres;

/// Row locks on the persons (`p`) a group of check-ins updates, taken in the read's order.
const FOR_UPDATE: &str = " FOR UPDATE OF p";

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
#[path = "sql/devices.rs"]
mod devices;
#[path = "sql/fixes.rs"]
mod fixes;
#[path = "sql/jobs.rs"]
mod jobs;
#[path = "sql/log.rs"]
mod log;
#[path = "sql/monitoring.rs"]
mod monitoring;
#[path = "sql/supervise.rs"]
mod supervise;
#[path = "sql/track.rs"]
mod track;
#[path = "sql/zones.rs"]
mod zones;
