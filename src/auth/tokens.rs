//! JSON Web Tokens: EdDSA only (the algorithm is pinned, `alg: none` and HMAC confusions are
//! refused), `iss` and `aud` checked by the library, `exp` checked against the service clock so
//! that the test clock governs token lifetimes too.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::SigningKeys;
use crate::{Error, Result};

/// Audience of staff (console and oversight) tokens.
pub const STAFF_AUDIENCE: &str = "liandong-staff";
/// Audience of device (phone and tag) tokens.
pub const DEVICE_AUDIENCE: &str = "liandong-device";

/// Tolerated clock difference between instances when checking `exp` and `iat`.
const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct StaffClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub role: String,
    pub scope: String,
    /// The user's token epoch: a password change or disabling the user bumps it.
    pub epoch: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceClaims {
    pub iss: String,
    pub aud: String,
    /// The device id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The one person this device reports for.
    pub person: i64,
    pub kind: String,
}

pub(super) fn sign<C: Serialize>(keys: &SigningKeys, claims: &C) -> Result<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.kid.clone());
    jsonwebtoken::encode(&header, claims, &keys.encoding)
        .map_err(|e| Error::Internal(anyhow::anyhow!("signing a token: {e}")))
}

/// Verifies signature, algorithm, issuer and audience, then `exp`/`iat` against `now`.
pub(super) fn verify<C: DeserializeOwned + Timed>(
    keys: &SigningKeys,
    token: &str,
    issuer: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<C> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked below against the service clock rather than the system time.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<C>(token, &keys.decoding, &validation)
        .map_err(|_| Error::Unauthorized("the token is invalid, or not meant for this service"))?;
    let claims = data.claims;
    check_times(&claims, now)?;
    Ok(claims)
}

/// `exp` and `iat` against the service clock: checked on every use, also of a token whose
/// signature was verified before.
pub(super) fn check_times<C: Timed>(claims: &C, now: DateTime<Utc>) -> Result<()> {
    let now = now.timestamp();
    if claims.exp() + LEEWAY_SECS <= now {
        return Err(Error::Unauthorized("the token has expired"));
    }
    if claims.iat() > now + LEEWAY_SECS {
        return Err(Error::Unauthorized("the token is invalid, or not meant for this service"));
    }
    Ok(())
}

pub(super) trait Timed {
    fn exp(&self) -> i64;
    fn iat(&self) -> i64;
}

impl Timed for StaffClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iat(&self) -> i64 {
        self.iat
    }
}

impl Timed for DeviceClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
    fn iat(&self) -> i64 {
        self.iat
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn claims(now: DateTime<Utc>, aud: &str) -> StaffClaims {
        StaffClaims {
            iss: "liandong".into(),
            aud: aud.into(),
            sub: "1".into(),
            iat: now.timestamp(),
            exp: now.timestamp() + 600,
            role: "county_officer".into(),
            scope: "420102".into(),
            epoch: 0,
        }
    }

    fn check(keys: &SigningKeys, token: &str, now: DateTime<Utc>) -> Result<StaffClaims> {
        verify::<StaffClaims>(keys, token, "liandong", STAFF_AUDIENCE, now)
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let keys = SigningKeys::ephemeral().unwrap();
        let now = Utc::now();
        let token = sign(&keys, &claims(now, STAFF_AUDIENCE)).unwrap();
        assert_eq!(check(&keys, &token, now).unwrap().scope, "420102");
        let later = now + chrono::Duration::minutes(11);
        assert!(matches!(check(&keys, &token, later), Err(Error::Unauthorized("the token has expired"))));
    }

    #[test]
    fn other_audiences_issuers_and_keys_are_refused() {
        let keys = SigningKeys::ephemeral().unwrap();
        let now = Utc::now();
        let device = sign(&keys, &claims(now, DEVICE_AUDIENCE)).unwrap();
        assert!(check(&keys, &device, now).is_err(), "a device token is not a staff token");
        let mut foreign = claims(now, STAFF_AUDIENCE);
        foreign.iss = "someone-else".into();
        assert!(check(&keys, &sign(&keys, &foreign).unwrap(), now).is_err());
        let other_key = SigningKeys::ephemeral().unwrap();
        let forged = sign(&other_key, &claims(now, STAFF_AUDIENCE)).unwrap();
        assert!(check(&keys, &forged, now).is_err(), "signed by another key");
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() {
        let keys = SigningKeys::ephemeral().unwrap();
        let now = Utc::now();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = b64.encode(serde_json::to_vec(&claims(now, STAFF_AUDIENCE)).unwrap());
        let none = format!("{}.{body}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(check(&keys, &none, now).is_err(), "alg none");
        let token = sign(&keys, &claims(now, STAFF_AUDIENCE)).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut admin = claims(now, STAFF_AUDIENCE);
        admin.role = "admin".into();
        let admin = b64.encode(serde_json::to_vec(&admin).unwrap());
        parts[1] = &admin;
        assert!(check(&keys, &parts.join("."), now).is_err(), "payload changed after signing");
    }
}
