//! Logging in, verifying tokens and exchanging device keys: the rules of who may act, with the
//! store and the clock behind them.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::tokens::{self, DeviceClaims, StaffClaims, DEVICE_AUDIENCE, STAFF_AUDIENCE};
use super::{password, Actor, DeviceActor, DeviceKind, Role, Scope, SigningKeys, StatusCache};
use crate::clock::Clock;
use crate::settings::AuthSettings;
use crate::store::{Account, LoginAttempt, Store};
use crate::{Error, Result};

const BAD_LOGIN: &str = "wrong user name or password";

/// An access token as the login and device endpoints return it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// A device's access token, bound to one person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceToken {
    #[serde(flatten)]
    pub token: LoginToken,
    pub person_id: i64,
}

#[derive(Clone)]
struct UserStatus {
    role: Role,
    scope: Scope,
    epoch: i64,
    disabled: bool,
}

/// How long a verified device token is remembered (its own `exp` still applies).
const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Clone, Copy)]
struct DeviceStatus {
    revoked: bool,
}

pub struct Auth {
    keys: SigningKeys,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
    users: StatusCache<i64, UserStatus>,
    devices: StatusCache<i64, DeviceStatus>,
    /// Device tokens whose signature was verified: an Ed25519 check costs ~50 µs, half the CPU of
    /// a busy check-in path. Times are still checked on every use; a token that is not
    /// byte-for-byte the verified one is verified again.
    verified: StatusCache<String, DeviceClaims>,
    /// Password hashes being computed at once.
    hashing: Arc<tokio::sync::Semaphore>,
}

impl Auth {
    pub fn new(keys: SigningKeys, store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: AuthSettings) -> Self {
        let ttl = Duration::from_secs(settings.status_cache_seconds.into());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Auth {
            keys,
            store,
            clock,
            settings,
            users: StatusCache::new(ttl),
            devices: StatusCache::new(ttl),
            verified: StatusCache::new(VERIFIED_TOKEN_TTL),
            hashing: Arc::new(tokio::sync::Semaphore::new(cores * 2)),
        }
    }

    fn lockout(&self) -> password::Lockout {
        password::Lockout {
            max_failures: self.settings.login_max_failures,
            base: Duration::from_secs(self.settings.login_lockout_seconds.into()),
            max: Duration::from_secs(self.settings.login_lockout_max_seconds.into()),
        }
    }

    /// Counts an attempt on `username` before its password is checked; refuses while the name is
    /// locked.
    async fn attempt(&self, username: &str) -> Result<()> {
        let now = self.clock.now();
        match self.store.login_attempt(username, &self.lockout(), now).await? {
            LoginAttempt::Allowed => Ok(()),
            LoginAttempt::Locked { until } => {
                let retry_after = (until - now).to_std().unwrap_or_default().max(Duration::from_secs(1));
                Err(Error::Throttled { retry_after })
            }
        }
    }

    /// Checks a user name and password and issues a staff token. Failures in a row lock the user
    /// name for a while, whether or not it exists.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginToken> {
        // A name that no user can have is refused without touching the store.
        if super::check_username(username).is_err() {
            return Err(Error::Unauthorized(BAD_LOGIN));
        }
        self.attempt(username).await?;
        let account = self.store.account_by_name(username).await?;
        let hash = account.as_ref().map(|a| a.password_hash.clone());
        let ok = self.check_password(hash, password).await?;
        match account.filter(|a| ok && a.disabled_at.is_none()) {
            Some(account) => {
                self.store.clear_login_failures(username).await?;
                self.issue_staff(&account)
            }
            None => Err(Error::Unauthorized(BAD_LOGIN)),
        }
    }

    fn issue_staff(&self, account: &Account) -> Result<LoginToken> {
        let now = self.clock.now().timestamp();
        let lifetime = i64::from(self.settings.staff_token_minutes) * 60;
        let claims = StaffClaims {
            iss: self.settings.issuer.clone(),
            aud: STAFF_AUDIENCE.into(),
            sub: account.id.to_string(),
            iat: now,
            exp: now + lifetime,
            role: account.role.as_str().into(),
            scope: account.scope.stored().into(),
            epoch: account.token_epoch,
        };
        Ok(LoginToken {
            access_token: tokens::sign(&self.keys, &claims)?,
            token_type: "Bearer",
            expires_in: lifetime as u64,
        })
    }

    /// The staff member a bearer token stands for, if it is valid and its user still active.
    pub async fn staff(&self, token: &str) -> Result<Actor> {
        let claims: StaffClaims =
            tokens::verify(&self.keys, token, &self.settings.issuer, STAFF_AUDIENCE, self.clock.now())?;
        let user_id: i64 = claims.sub.parse().map_err(|_| Error::Unauthorized("the token is invalid"))?;
        // A token newer than the cached status (a password changed on another instance) makes
        // this instance read the account again.
        let status = match self.users.get(&user_id).filter(|s| s.epoch >= claims.epoch) {
            Some(s) => s,
            None => {
                let account = self.store.account(user_id).await?.ok_or(Error::Unauthorized("the token is invalid"))?;
                let status = UserStatus {
                    role: account.role,
                    scope: account.scope,
                    epoch: account.token_epoch,
                    disabled: account.disabled_at.is_some(),
                };
                self.users.put(user_id, status.clone());
                status
            }
        };
        if status.disabled || status.epoch != claims.epoch || status.role.as_str() != claims.role {
            return Err(Error::Unauthorized("the token has been revoked"));
        }
        Ok(Actor { user_id, role: status.role, scope: status.scope })
    }

    /// Changes the actor's own password. Every earlier token ends; a fresh one is returned.
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str) -> Result<LoginToken> {
        let account = self.store.account(actor.user_id).await?.ok_or(Error::Unauthorized("the token is invalid"))?;
        let now = self.clock.now();
        self.attempt(&account.username).await?;
        if !self.check_password(Some(account.password_hash.clone()), current).await? {
            return Err(Error::invalid("current_password", "does not match"));
        }
        self.store.clear_login_failures(&account.username).await?;
        password::check_new("new_password", new)?;
        if new == current {
            return Err(Error::invalid("new_password", "must differ from the current password"));
        }
        let owned = new.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&owned))
            .await
            .map_err(|e| anyhow::anyhow!("hashing task: {e}"))??;
        self.store.set_password(account.id, &hash, &actor.label(), now).await?;
        self.users.forget(&account.id);
        let account = self.store.account(account.id).await?.ok_or(Error::NotFound("user"))?;
        self.issue_staff(&account)
    }

    /// Exchanges a device's id and key for a device token bound to its person.
    pub async fn device_token(&self, device_id: i64, key: &str) -> Result<DeviceToken> {
        const BAD_DEVICE: &str = "unknown device or wrong device key";
        let creds = self.store.device_credentials(device_id).await?.ok_or(Error::Unauthorized(BAD_DEVICE))?;
        if key_hash(key) != creds.key_hash {
            return Err(Error::Unauthorized(BAD_DEVICE));
        }
        if creds.device.revoked_at.is_some() {
            return Err(Error::Unauthorized("the device has been revoked"));
        }
        let now = self.clock.now().timestamp();
        let lifetime = i64::from(self.settings.device_token_hours) * 3600;
        let claims = DeviceClaims {
            iss: self.settings.issuer.clone(),
            aud: DEVICE_AUDIENCE.into(),
            sub: device_id.to_string(),
            iat: now,
            exp: now + lifetime,
            person: creds.device.person_id,
            kind: creds.device.kind.as_str().into(),
        };
        let access_token = tokens::sign(&self.keys, &claims)?;
        Ok(DeviceToken {
            token: LoginToken { access_token, token_type: "Bearer", expires_in: lifetime as u64 },
            person_id: creds.device.person_id,
        })
    }

    /// The device a bearer token stands for, if it is valid and the device not revoked.
    pub async fn device(&self, token: &str) -> Result<DeviceActor> {
        let now = self.clock.now();
        let claims = match self.verified.get_by(token) {
            Some(claims) => {
                tokens::check_times(&claims, now)?;
                claims
            }
            None => {
                let claims: DeviceClaims =
                    tokens::verify(&self.keys, token, &self.settings.issuer, DEVICE_AUDIENCE, now)?;
                self.verified.put(token.to_owned(), claims.clone());
                claims
            }
        };
        let device_id: i64 = claims.sub.parse().map_err(|_| Error::Unauthorized("the token is invalid"))?;
        let kind = DeviceKind::parse(&claims.kind).ok_or(Error::Unauthorized("the token is invalid"))?;
        let status = match self.devices.get(&device_id) {
            Some(s) => s,
            None => {
                let creds = self.store.device_credentials(device_id).await?;
                let status = DeviceStatus { revoked: creds.is_none_or(|c| c.device.revoked_at.is_some()) };
                self.devices.put(device_id, status);
                status
            }
        };
        if status.revoked {
            return Err(Error::Unauthorized("the device has been revoked"));
        }
        Ok(DeviceActor { device_id, person_id: claims.person, kind })
    }

    /// The device a key belongs to, for clients that send the key itself on every request
    /// (OsmAnd/Traccar) or as HTTP Basic credentials (OwnTracks, with the device id).
    pub async fn device_by_key(&self, device_id: Option<i64>, key: &str) -> Result<DeviceActor> {
        const BAD_DEVICE: &str = "unknown device or wrong device key";
        let hash = key_hash(key);
        let creds = match device_id {
            Some(id) => self.store.device_credentials(id).await?.filter(|c| c.key_hash == hash),
            None => self.store.device_by_key_hash(&hash).await?,
        };
        let creds = creds.ok_or(Error::Unauthorized(BAD_DEVICE))?;
        if creds.device.revoked_at.is_some() {
            return Err(Error::Unauthorized("the device has been revoked"));
        }
        Ok(DeviceActor { device_id: creds.device.id, person_id: creds.device.person_id, kind: creds.device.kind })
    }

    /// Makes a revocation effective on this instance at once (others follow within the cache TTL).
    pub fn forget_device(&self, device_id: i64) {
        self.devices.forget(&device_id);
    }
}

impl Auth {
    /// Verifies off the async runtime: Argon2 takes tens of milliseconds and ~19 MiB by design,
    /// so at most a few run at once and a flood of logins waits briefly, then gets 503. Without
    /// a stored hash the decoy is checked, so an unknown user name costs as much as a wrong
    /// password.
    async fn check_password(&self, hash: Option<String>, password: &str) -> Result<bool> {
        let permit = tokio::time::timeout(Duration::from_secs(2), self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy)?
            .map_err(|_| Error::Busy)?;
        let password = password.to_owned();
        let exists = hash.is_some();
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let hash = hash.as_deref().unwrap_or_else(|| password::decoy_hash());
            password::verify(hash, &password)
        })
        .await
        .map_err(|e| anyhow::anyhow!("password task: {e}"))?;
        Ok(ok && exists)
    }
}

/// A new device key (shown once) and the hash to store. 256 random bits: a plain SHA-256 is the
/// right hash for a key that cannot be guessed, and it is fast enough for every check-in.
pub fn new_device_key() -> Result<(String, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random device key: {e}"))?;
    let key = format!("ldk_{}", hex::encode(bytes));
    let hash = key_hash(&key);
    Ok((key, hash))
}

pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
