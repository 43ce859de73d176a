//! Offices, staff accounts, login throttling and devices.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::unique_violation;
use super::log::append;
use super::{Backend, Db};
use crate::auth::{Role, Scope};
use crate::oversight::{EventKind, NewEvent};
use crate::register::Office;
use crate::store::{Account, AccountStore, LockRule, LoginAttempt, NewUser};
use crate::{Error, Result};

#[derive(FromRow)]
struct OfficeRow {
    id: String,
    name: String,
    county: String,
    city: String,
}

impl From<OfficeRow> for Office {
    fn from(r: OfficeRow) -> Self {
        Office { id: r.id, name: r.name, county: r.county, city: r.city }
    }
}

const ACCOUNT_SELECT: &str = "SELECT u.id, u.username, u.role, u.scope_kind, u.scope, u.password_hash, \
     u.disabled_at, u.token_epoch, o.county AS office_county \
     FROM users u LEFT JOIN offices o ON u.scope_kind = 'office' AND o.id = u.scope ";

#[derive(FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    role: String,
    scope_kind: String,
    scope: String,
    password_hash: String,
    disabled_at: Option<DateTime<Utc>>,
    token_epoch: i64,
    office_county: Option<String>,
}

impl TryFrom<AccountRow> for Account {
    type Error = Error;
    fn try_from(r: AccountRow) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("user {}: bad {what} in the database", r.id));
        let role: Role = r.role.parse().map_err(|_| corrupt("role"))?;
        let scope = match r.scope_kind.as_str() {
            "office" => {
                Scope::Office { id: r.scope.clone(), county: r.office_county.clone().ok_or_else(|| corrupt("office"))? }
            }
            "county" => Scope::County(r.scope.clone()),
            "city" => Scope::City(r.scope.clone()),
            "region" => Scope::Region(r.scope.clone()),
            _ => return Err(corrupt("scope")),
        };
        Ok(Account {
            id: r.id,
            username: r.username,
            role,
            scope,
            password_hash: r.password_hash,
            disabled_at: r.disabled_at,
            token_epoch: r.token_epoch,
        })
    }
}

enum AccountKey<'a> {
    Id(i64),
    Name(&'a str),
}

fn scope_kind(scope: &Scope) -> &'static str {
    match scope {
        Scope::Office { .. } => "office",
        Scope::County(_) => "county",
        Scope::City(_) => "city",
        Scope::Region(_) => "region",
    }
}

impl Backend {
    async fn account_in(tx: &mut Transaction<'_, Db>, key: AccountKey<'_>) -> Result<Option<Account>> {
        let mut q = QueryBuilder::<Db>::new(ACCOUNT_SELECT);
        match key {
            AccountKey::Id(id) => q.push(" WHERE u.id = ").push_bind(id),
            AccountKey::Name(name) => q.push(" WHERE u.username = ").push_bind(name.to_owned()),
        };
        let row: Option<AccountRow> = q.build_query_as().fetch_optional(&mut **tx).await?;
        row.map(Account::try_from).transpose()
    }
}

#[async_trait]
impl AccountStore for Backend {
    async fn create_office(&self, office: &Office, by: &str, at: DateTime<Utc>) -> Result<Office> {
        let mut tx = self.begin_write().await?;
        let existing: Option<OfficeRow> = sqlx::query_as("SELECT id, name, county, city FROM offices WHERE id = $1")
            .bind(&office.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(existing) = existing.map(Office::from) {
            return match existing == *office {
                true => Ok(existing),
                false => Err(Error::Conflict(format!("office {} already exists with other details", office.id))),
            };
        }
        sqlx::query("INSERT INTO offices (id, name, county, city, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&office.id)
            .bind(&office.name)
            .bind(&office.county)
            .bind(&office.city)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let data = json!({"office": office.id, "name": office.name, "county": office.county, "city": office.city});
        append(&mut tx, &NewEvent::new(EventKind::OfficeCreated, &office.county, by, data), at).await?;
        tx.commit().await?;
        Ok(office.clone())
    }

    async fn office(&self, id: &str) -> Result<Option<Office>> {
        let row: Option<OfficeRow> = sqlx::query_as("SELECT id, name, county, city FROM offices WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(Office::from))
    }

    async fn create_user(&self, user: &NewUser, by: &str, at: DateTime<Utc>) -> Result<Account> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, role, scope_kind, scope, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(scope_kind(&user.scope))
        .bind(user.scope.stored())
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            true => Error::Conflict(format!("user name {:?} is taken", user.username)),
            false => e.into(),
        })?;
        let data =
            json!({"user_id": id, "username": user.username, "role": user.role.as_str(), "scope": user.scope.stored()});
        append(&mut tx, &NewEvent::new(EventKind::UserCreated, user.scope.county(), by, data), at).await?;
        let account = Self::account_in(&mut tx, AccountKey::Id(id)).await?;
        tx.commit().await?;
        account.ok_or(Error::NotFound("user"))
    }

    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.read).await?)
    }

    async fn account_by_name(&self, username: &str) -> Result<Option<Account>> {
        let sql = format!("{ACCOUNT_SELECT} WHERE u.username = $1");
        let row: Option<AccountRow> = sqlx::query_as(&sql).bind(username).fetch_optional(&self.read).await?;
        row.map(Account::try_from).transpose()
    }

    async fn account(&self, id: i64) -> Result<Option<Account>> {
        let sql = format!("{ACCOUNT_SELECT} WHERE u.id = $1");
        let row: Option<AccountRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
        row.map(Account::try_from).transpose()
    }

    async fn set_password(&self, id: i64, hash: &str, by: &str, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = Self::account_in(&mut tx, AccountKey::Id(id)).await?.ok_or(Error::NotFound("user"))?;
        sqlx::query("UPDATE users SET password_hash = $1, token_epoch = token_epoch + 1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let data = json!({"user_id": id, "username": account.username});
        append(&mut tx, &NewEvent::new(EventKind::UserPasswordChanged, account.scope.county(), by, data), at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn disable_user(&self, username: &str, by: &str, at: DateTime<Utc>) -> Result<Account> {
        let mut tx = self.begin_write().await?;
        let account = Self::account_in(&mut tx, AccountKey::Name(username)).await?.ok_or(Error::NotFound("user"))?;
        if account.disabled_at.is_some() {
            return Ok(account);
        }
        sqlx::query("UPDATE users SET disabled_at = $1, token_epoch = token_epoch + 1 WHERE id = $2")
            .bind(at)
            .bind(account.id)
            .execute(&mut *tx)
            .await?;
        let data = json!({"user_id": account.id, "username": account.username});
        append(&mut tx, &NewEvent::new(EventKind::UserDisabled, account.scope.county(), by, data), at).await?;
        let account = Self::account_in(&mut tx, AccountKey::Id(account.id)).await?;
        tx.commit().await?;
        account.ok_or(Error::NotFound("user"))
    }

    async fn login_attempt(&self, username: &str, lock: &dyn LockRule, at: DateTime<Utc>) -> Result<LoginAttempt> {
        let mut tx = self.begin_write().await?;
        // Failures older than the longest lock no longer count; rows older than a day go.
        let fresh = at - chrono::Duration::from_std(lock.forget_after()).unwrap_or(chrono::Duration::MAX);
        sqlx::query("DELETE FROM login_failures WHERE updated_at < $1")
            .bind(at - chrono::Duration::days(1))
            .execute(&mut *tx)
            .await?;
        // Counts the attempt unless the name is locked; the row lock (PostgreSQL) or the write lock
        // (SQLite) held until commit makes concurrent attempts take turns.
        let failures: Option<i64> = sqlx::query_scalar(
            "INSERT INTO login_failures (username, failures, updated_at) VALUES ($1, 1, $2) \
             ON CONFLICT (username) DO UPDATE SET updated_at = $2, failures = CASE \
               WHEN login_failures.updated_at < $3 THEN 1 ELSE login_failures.failures + 1 END \
             WHERE login_failures.locked_until IS NULL OR login_failures.locked_until <= $2 \
             RETURNING failures",
        )
        .bind(username)
        .bind(at)
        .bind(fresh)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(failures) = failures else {
            let until: Option<DateTime<Utc>> =
                sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE username = $1")
                    .bind(username)
                    .fetch_one(&mut *tx)
                    .await?;
            return Ok(LoginAttempt::Locked { until: until.unwrap_or(at) });
        };
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if let Some(lock_for) = lock.lock_for(failures) {
            let until = at + chrono::Duration::from_std(lock_for).unwrap_or(chrono::Duration::MAX);
            sqlx::query("UPDATE login_failures SET locked_until = $1 WHERE username = $2")
                .bind(until)
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(LoginAttempt::Allowed)
    }

    async fn clear_login_failures(&self, username: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(username).execute(&self.write).await?;
        Ok(())
    }
}
