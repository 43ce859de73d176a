//! Webhook subscriptions, owned by the creator's agency and office, county or city. Creating and
//! deleting one are events: data leaves the system through it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, Transaction};

use super::common::{remember, replayed, resource_id};
use super::log::{append, head};
use super::{Backend, Db};
use crate::auth::{Actor, Role, Scope};
use crate::oversight::webhook::host_of;
use crate::oversight::{EventKind, NewEvent, NewWebhook, Webhook, WebhookAttempt};
use crate::settings::Secret;
use crate::store::{Enrolled, IdempotencyKey, WebhookStore};
use crate::{Error, Result};

const COLUMNS: &str = "w.id, w.agency, w.scope_kind, w.scope, w.url, w.kinds, w.secret, w.created_at, w.created_by, \
     w.deleted_at, w.cursor, w.failures, w.next_attempt_at, w.last_attempt_at, w.last_status, w.last_error, \
     w.last_delivered_at";

#[derive(FromRow)]
struct WebhookRow {
    id: i64,
    agency: String,
    scope_kind: String,
    scope: String,
    url: String,
    kinds: String,
    secret: String,
    created_at: DateTime<Utc>,
    created_by: i64,
    deleted_at: Option<DateTime<Utc>>,
    cursor: i64,
    failures: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    last_status: Option<i32>,
    last_error: Option<String>,
    last_delivered_at: Option<DateTime<Utc>>,
}

pub(super) fn kinds(id: i64, text: &str) -> Result<Vec<EventKind>> {
    serde_json::from_str(text)
        .map_err(|_| Error::Internal(anyhow::anyhow!("webhook {id}: bad event kinds in the database")))
}

impl WebhookRow {
    fn into_webhook(self, head: i64, with_secret: bool) -> Result<Webhook> {
        Ok(Webhook {
            kinds: kinds(self.id, &self.kinds)?,
            secret: with_secret.then_some(Secret(self.secret)),
            behind: (head - self.cursor).max(0),
            id: self.id,
            agency: self.agency,
            scope_kind: self.scope_kind,
            scope: self.scope,
            url: self.url,
            created_at: self.created_at,
            created_by: self.created_by,
            deleted_at: self.deleted_at,
            cursor: self.cursor,
            failures: self.failures,
            next_attempt_at: self.next_attempt_at,
            last_attempt_at: self.last_attempt_at,
            last_status: self.last_status,
            last_error: self.last_error,
            last_delivered_at: self.last_delivered_at,
            attempts: Vec::new(),
        })
    }
}

/// Who owns a subscription: the agency (the procuratorate or the corrections agency, so that
/// neither sees nor ends the other's), the kind of scope and the scope.
struct Owner<'a> {
    agency: &'static str,
    kind: &'static str,
    scope: &'a str,
}

/// The stored form of a subscriber; administrators have no case events to receive.
fn owner(actor: &Actor) -> Result<Owner<'_>> {
    if !actor.role.reads_cases() {
        return Err(Error::Forbidden(format!("the {} role receives no case events", actor.role)));
    }
    let agency = if actor.role == Role::Procurator { "procuratorate" } else { "corrections" };
    let (kind, scope) = match &actor.scope {
        Scope::Office { id, .. } => ("office", id.as_str()),
        Scope::County(c) => ("county", c.as_str()),
        Scope::City(c) => ("city", c.as_str()),
        Scope::Region(_) => return Err(Error::Forbidden("administrators receive no case events".into())),
    };
    Ok(Owner { agency, kind, scope })
}

/// A subscription of the actor's own scope (another scope's does not exist for them).
async fn owned(tx: &mut Transaction<'_, Db>, actor: &Actor, id: i64) -> Result<WebhookRow> {
    let owner = owner(actor)?;
    let row: Option<WebhookRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks w WHERE w.id = $1 AND w.agency = $2 AND w.scope_kind = $3 AND w.scope = $4"
    ))
    .bind(id)
    .bind(owner.agency)
    .bind(owner.kind)
    .bind(owner.scope)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or(Error::NotFound("webhook"))
}

#[async_trait]
impl WebhookStore for Backend {
    async fn create_webhook(
        &self,
        actor: &Actor,
        new: &NewWebhook,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Webhook>> {
        let owner = owner(actor)?;
        let mut tx = self.begin_write().await?;
        let head = head(&mut *tx).await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let row = owned(&mut tx, actor, resource_id(&resource, "webhook")?).await?;
            return Ok(Enrolled { value: row.into_webhook(head, true)?, replayed: true });
        }
        let cursor = new.after.unwrap_or(head);
        if cursor > head {
            return Err(Error::invalid("after", format!("{cursor} lies beyond the end of the log ({head})")));
        }
        let kinds_text = serde_json::to_string(&new.kinds).map_err(anyhow::Error::from)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (agency, scope_kind, scope, url, kinds, secret, created_at, created_by, cursor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(owner.agency)
        .bind(owner.kind)
        .bind(owner.scope)
        .bind(&new.url)
        .bind(&kinds_text)
        .bind(&new.secret.0)
        .bind(at)
        .bind(actor.user_id)
        .bind(cursor)
        .fetch_one(&mut *tx)
        .await?;
        remember(&mut tx, idem, &format!("webhook:{id}"), at).await?;
        let data = json!({
            "webhook_id": id, "host": host_of(&new.url), "kinds": new.kinds, "agency": owner.agency,
            "scope_kind": owner.kind, "scope": owner.scope, "after": cursor,
        });
        append(&mut tx, &NewEvent::new(EventKind::WebhookCreated, actor.scope.county(), actor.label(), data), at)
            .await?;
        let row = owned(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(Enrolled { value: row.into_webhook(head, true)?, replayed: false })
    }

    async fn webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>> {
        let owner = owner(actor)?;
        let mut tx = self.read.begin().await?;
        let head = head(&mut *tx).await?;
        let rows: Vec<WebhookRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM webhooks w WHERE w.agency = $1 AND w.scope_kind = $2 AND w.scope = $3 \
             AND w.deleted_at IS NULL ORDER BY w.id"
        ))
        .bind(owner.agency)
        .bind(owner.kind)
        .bind(owner.scope)
        .fetch_all(&mut *tx)
        .await?;
        rows.into_iter().map(|r| r.into_webhook(head, false)).collect()
    }

    async fn webhook(&self, actor: &Actor, id: i64) -> Result<Webhook> {
        let mut tx = self.read.begin().await?;
        let head = head(&mut *tx).await?;
        let mut webhook = owned(&mut tx, actor, id).await?.into_webhook(head, false)?;
        let attempts: Vec<(i64, DateTime<Utc>, Option<i32>, Option<String>, i32)> = sqlx::query_as(
            "SELECT seq, at, status, error, duration_ms FROM webhook_attempts WHERE webhook_id = $1 \
             ORDER BY id DESC LIMIT 20",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        webhook.attempts = attempts
            .into_iter()
            .map(|(seq, at, status, error, duration_ms)| WebhookAttempt { seq, at, status, error, duration_ms })
            .collect();
        Ok(webhook)
    }

    async fn delete_webhook(&self, actor: &Actor, id: i64, at: DateTime<Utc>) -> Result<Webhook> {
        let mut tx = self.begin_write().await?;
        let head = head(&mut *tx).await?;
        let row = owned(&mut tx, actor, id).await?;
        if row.deleted_at.is_some() {
            return row.into_webhook(head, false);
        }
        let deleted = sqlx::query("UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            // Another request deleted it in the meantime (PostgreSQL): one event only.
            return owned(&mut tx, actor, id).await?.into_webhook(head, false);
        }
        let data = json!({ "webhook_id": id, "host": host_of(&row.url) });
        append(&mut tx, &NewEvent::new(EventKind::WebhookDeleted, actor.scope.county(), actor.label(), data), at)
            .await?;
        let row = owned(&mut tx, actor, id).await?;
        tx.commit().await?;
        row.into_webhook(head, false)
    }
}
