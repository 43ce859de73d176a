//! Passwords: Argon2id hashes (PHC strings), a minimum standard for new ones, and the lockout
//! schedule for repeated failures.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{Error, Result};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 256;

/// Checks a new password against the minimum standard.
pub fn check_new(field: &str, password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(Error::invalid(field, format!("must be at least {MIN_LEN} characters")));
    }
    if chars > MAX_LEN {
        return Err(Error::invalid(field, format!("must be at most {MAX_LEN} characters")));
    }
    if password.trim() != password {
        return Err(Error::invalid(field, "must not begin or end with white space"));
    }
    Ok(())
}

/// Argon2id with the crate's recommended parameters and a random salt.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the stored hash. A malformed stored hash never matches.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A valid hash of a random password, verified against when the user name is unknown so that an
/// unknown name takes as long to refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut noise = [0u8; 24];
        let _ = getrandom::fill(&mut noise);
        hash(&hex::encode(noise)).unwrap_or_default()
    })
}

/// After `max_failures` failures in a row a user name is locked for `base`, doubling with each
/// further failure up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub max_failures: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Lockout {
    pub fn lock_for(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.max_failures)?;
        let factor = 1u32.checked_shl(over.min(20)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse battery!"));
        assert!(!verify("not a phc string", "x"));
    }

    #[test]
    fn weak_passwords_are_refused_with_the_field_named() {
        let err = check_new("password", "short").unwrap_err().to_string();
        assert!(err.starts_with("password:") && err.contains("12"), "{err}");
        assert!(check_new("password", " padded password ").is_err());
        assert!(check_new("password", "a long enough passphrase").is_ok());
    }

    #[test]
    fn lockout_starts_at_the_limit_and_doubles_to_the_cap() {
        let l = Lockout { max_failures: 5, base: Duration::from_secs(60), max: Duration::from_secs(900) };
        assert_eq!(l.lock_for(4), None);
        assert_eq!(l.lock_for(5), Some(Duration::from_secs(60)));
        assert_eq!(l.lock_for(6), Some(Duration::from_secs(120)));
        assert_eq!(l.lock_for(9), Some(Duration::from_secs(900)));
        assert_eq!(l.lock_for(500), Some(Duration::from_secs(900)));
    }
}
