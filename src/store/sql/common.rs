//! Shared by both backends (compiled once in each): the `Store` impl, the scope condition and
//! idempotency records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Transaction};

use super::{Backend, Db, FOR_UPDATE};
use crate::auth::{Actor, Scope};
use crate::store::{IdempotencyKey, Store};
use crate::{Error, Result};

#[async_trait]
impl Store for Backend {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Appends ` AND <the actor's scope>` for persons aliased `p`. Refuses roles without case access,
/// so that a forgotten role check in a handler still reveals nothing.
pub(super) fn push_scope(q: &mut QueryBuilder<'_, Db>, actor: &Actor) -> Result<()> {
    if !actor.role.reads_cases() {
        return Err(Error::NotFound("person"));
    }
    let column = match &actor.scope {
        Scope::Office { .. } => "p.office_id",
        Scope::County(_) => "p.county",
        Scope::City(_) => "p.city",
        Scope::Region(_) => return Err(Error::NotFound("person")),
    };
    q.push(" AND ").push(column).push(" = ").push_bind(actor.scope.stored().to_owned());
    Ok(())
}

/// Refuses roles without case access with a 403 (where a 404 would wrongly suggest a missing
/// resource: lists and counts).
pub(super) fn require_reader(actor: &Actor) -> Result<()> {
    if actor.role.reads_cases() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("the {} role reads no case data", actor.role)))
    }
}

/// Refuses roles that may read but not change the case file.
pub(super) fn require_writer(actor: &Actor) -> Result<()> {
    if actor.role.writes_cases() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("the {} role cannot change the case file", actor.role)))
    }
}

/// The county of a person the actor may change, and whether their supervision has ended:
/// "not found" outside the actor's scope, "forbidden" for roles that only read.
pub(super) async fn writable_person(
    tx: &mut Transaction<'_, Db>,
    actor: &Actor,
    person_id: i64,
) -> Result<(String, bool)> {
    let mut q = QueryBuilder::<Db>::new("SELECT p.county, p.ended_on IS NOT NULL FROM persons p WHERE p.id = ");
    q.push_bind(person_id);
    push_scope(&mut q, actor)?;
    let found: Option<(String, bool)> = q.build_query_as().fetch_optional(&mut **tx).await?;
    let found = found.ok_or(Error::NotFound("person"))?;
    require_writer(actor)?;
    Ok(found)
}

/// What an earlier request with this key created, if any. The same key with a different request
/// is refused rather than silently answered with the wrong resource.
pub(super) async fn replayed(tx: &mut Transaction<'_, Db>, idem: Option<&IdempotencyKey>) -> Result<Option<String>> {
    let Some(idem) = idem else { return Ok(None) };
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT request_hash, resource FROM idempotency_keys WHERE principal = $1 AND key = $2")
            .bind(&idem.principal)
            .bind(&idem.key)
            .fetch_optional(&mut **tx)
            .await?;
    match row {
        Some((hash, resource)) if hash == idem.request_hash => Ok(Some(resource)),
        Some(_) => Err(Error::Conflict("Idempotency-Key: already used for a different request".into())),
        None => Ok(None),
    }
}

pub(super) async fn remember(
    tx: &mut Transaction<'_, Db>,
    idem: Option<&IdempotencyKey>,
    resource: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(idem) = idem else { return Ok(()) };
    sqlx::query(
        "INSERT INTO idempotency_keys (principal, key, request_hash, resource, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&idem.principal)
    .bind(&idem.key)
    .bind(&idem.request_hash)
    .bind(resource)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(|e| match unique_violation(&e) {
        true => Error::Conflict("Idempotency-Key: the same request is being processed; retry".into()),
        false => e.into(),
    })?;
    Ok(())
}

pub(super) fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The numeric id in a remembered resource such as `person:12`.
pub(super) fn resource_id(resource: &str, kind: &str) -> Result<i64> {
    resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::Conflict("Idempotency-Key: already used for a different kind of request".into()))
}

/// `a, b` as `x.a, x.b`: a column list for a query that joins.
pub(super) fn prefixed(columns: &str, alias: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// Locks the rows of these persons in id order (PostgreSQL; SQLite's writer holds the whole
/// database). Taken first by every transaction that will change their alerts: see `FOR_UPDATE`.
pub(super) async fn lock_persons(tx: &mut Transaction<'_, Db>, ids: &[i64]) -> Result<()> {
    if FOR_UPDATE.is_empty() || ids.is_empty() {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut q = QueryBuilder::<Db>::new("SELECT p.id FROM persons p WHERE p.id IN (");
    let mut list = q.separated(", ");
    for id in &sorted {
        list.push_bind(*id);
    }
    q.push(") ORDER BY p.id").push(FOR_UPDATE);
    q.build().fetch_all(&mut **tx).await?;
    Ok(())
}
