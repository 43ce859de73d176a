//! The deliverer's side of webhook subscriptions: claims (one at a time per subscription, each
//! with its own token), progress, and the purge of the attempts' record.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Transaction;

use super::webhooks::kinds;
use super::{Backend, Db};
use crate::oversight::webhook::{Delivery, Progress};
use crate::oversight::WebhookAttempt;
use crate::settings::Secret;
use crate::store::DeliveryStore;
use crate::Result;

#[async_trait]
impl DeliveryStore for Backend {
    async fn claim_webhooks(
        &self,
        claim: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let mut tx = self.begin_write().await?;
        // Free (never claimed, given back, or lapsed) and owed, least recently claimed first, so
        // that every subscription gets its turn. The outer condition repeats the inner one: on
        // PostgreSQL it is checked again on each row once locked, so two instances cannot both
        // claim one, nor claim one deleted or put back to wait in the meantime.
        const FREE: &str = "deleted_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
             AND (claimed_by IS NULL OR claimed_until < $3)";
        let rows: Vec<(i64, String, String, String, String, String, i64, i32)> = sqlx::query_as(&format!(
            "UPDATE webhooks SET claimed_by = $1, claimed_until = $2 WHERE id IN (SELECT id FROM webhooks \
             WHERE {FREE} AND cursor < (SELECT seq FROM oversight_head WHERE id = 1) \
             ORDER BY claimed_until IS NOT NULL, claimed_until, id LIMIT $4) AND {FREE} \
             RETURNING id, scope_kind, scope, url, kinds, secret, cursor, failures"
        ))
        .bind(claim)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|(id, scope_kind, scope, url, kinds_text, secret, cursor, failures)| {
                Ok(Delivery {
                    kinds: kinds(id, &kinds_text)?,
                    secret: Secret(secret),
                    claim: claim.to_owned(),
                    id,
                    scope_kind,
                    scope,
                    url,
                    cursor,
                    failures,
                })
            })
            .collect()
    }

    async fn webhook_progress(&self, d: &Delivery, progress: &Progress) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Each statement takes the subscription and the claim as its last two parameters.
        let update = match progress {
            Progress::Delivered(a) => sqlx::query(
                "UPDATE webhooks SET cursor = $1, failures = 0, next_attempt_at = NULL, last_attempt_at = $2, \
                 last_status = $3, last_error = NULL, last_delivered_at = $2 \
                 WHERE id = $4 AND claimed_by = $5 AND cursor < $1 AND deleted_at IS NULL",
            )
            .bind(a.seq)
            .bind(a.at)
            .bind(a.status),
            Progress::Failed(a, next) => sqlx::query(
                "UPDATE webhooks SET failures = failures + 1, next_attempt_at = $1, last_attempt_at = $2, \
                 last_status = $3, last_error = $4 WHERE id = $5 AND claimed_by = $6 AND deleted_at IS NULL",
            )
            .bind(*next)
            .bind(a.at)
            .bind(a.status)
            .bind(a.error.as_deref()),
            Progress::PassedTo(cursor) => {
                sqlx::query("UPDATE webhooks SET cursor = $1 WHERE id = $2 AND claimed_by = $3 AND cursor < $1")
                    .bind(*cursor)
            }
            // `claimed_until` stays: it orders the next claims (least recent first).
            Progress::Released => {
                sqlx::query("UPDATE webhooks SET claimed_by = NULL WHERE id = $1 AND claimed_by = $2")
            }
        };
        let held = update.bind(d.id).bind(&d.claim).execute(&mut *tx).await?.rows_affected() == 1;
        if let (true, Progress::Delivered(attempt) | Progress::Failed(attempt, _)) = (held, progress) {
            record_attempt(&mut tx, d.id, attempt).await?;
        }
        tx.commit().await?;
        Ok(held)
    }

    async fn purge_webhook_attempts(&self, before: DateTime<Utc>) -> Result<usize> {
        // In slices, so that the write lock is never held for long; the next run takes the rest.
        let mut tx = self.begin_write().await?;
        let gone = sqlx::query(
            "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE at < $1 LIMIT 10000)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone.rows_affected() as usize)
    }
}

/// Keeps the record of one attempt.
async fn record_attempt(tx: &mut Transaction<'_, Db>, id: i64, attempt: &WebhookAttempt) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_attempts (webhook_id, seq, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(attempt.seq)
    .bind(attempt.at)
    .bind(attempt.status)
    .bind(attempt.error.as_deref())
    .bind(attempt.duration_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
