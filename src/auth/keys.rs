//! The Ed25519 key that signs every token. Generated into the data directory on first start (mode
//! 0600), or read from a configured PKCS#8 PEM file; never passed on the command line.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

pub const GENERATED_KEY_FILE: &str = "jwt-ed25519.pem";

pub struct SigningKeys {
    pub(super) encoding: EncodingKey,
    pub(super) decoding: DecodingKey,
    /// Names the key in each token's header, so that a key can later be rotated.
    pub(super) kid: String,
}

impl SigningKeys {
    /// Reads `configured`, or the generated key in `data_dir`, creating it if absent.
    pub fn load_or_generate(configured: Option<&Path>, data_dir: &Path) -> anyhow::Result<Self> {
        let path = match configured {
            Some(p) => p.to_path_buf(),
            None => {
                let p = data_dir.join(GENERATED_KEY_FILE);
                if !p.exists() {
                    generate_into(&p)?;
                    tracing::info!(path = %p.display(), "generated a new token signing key");
                }
                p
            }
        };
        let pem =
            std::fs::read_to_string(&path).with_context(|| format!("reading token signing key {}", path.display()))?;
        Self::from_pem(&pem).with_context(|| format!("token signing key {}", path.display()))
    }

    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| anyhow::anyhow!("not a PKCS#8 Ed25519 key: {e}"))?;
        Self::from_signing_key(&key)
    }

    /// A fresh key that lives only in memory (tests, throwaway instances).
    pub fn ephemeral() -> anyhow::Result<Self> {
        Self::from_signing_key(&random_key()?)
    }

    fn from_signing_key(key: &SigningKey) -> anyhow::Result<Self> {
        let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("{e}"))?;
        let public = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("{e}"))?;
        let kid = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
        Ok(SigningKeys {
            encoding: EncodingKey::from_ed_pem(private.as_bytes())?,
            decoding: DecodingKey::from_ed_pem(public.as_bytes())?,
            kid,
        })
    }
}

fn random_key() -> anyhow::Result<SigningKey> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
    Ok(SigningKey::from_bytes(&secret))
}

fn generate_into(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let pem = random_key()?.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKeys::load_or_generate(None, dir.path()).unwrap();
        let second = SigningKeys::load_or_generate(None, dir.path()).unwrap();
        assert_eq!(first.kid, second.kid, "the second start reads the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_file_that_is_not_a_key_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "not a key").unwrap();
        let err = SigningKeys::load_or_generate(Some(&path), dir.path()).err().unwrap();
        assert!(format!("{err:#}").contains("k.pem"));
    }
}
