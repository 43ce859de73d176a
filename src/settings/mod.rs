//! Settings: defaults, then an optional TOML file, then `LIANDONG_*` environment variables
//! (nested keys with `__`, e.g. `LIANDONG_POLICY__REGISTRATION_DAYS=15`). Everything is checked
//! at start-up; an invalid value stops the service with a message that names the setting.

mod policy;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use policy::Policy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// Holds the SQLite database and generated keys.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `liandong.db` in the data directory.
    pub database_url: Option<Secret>,
    /// Local time zone that dates and days are counted in (IANA name).
    pub time_zone: String,
    /// `system`, or `test` for a clock the test API can set: never in production.
    pub clock: ClockMode,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Uploads of fixes that may wait for the writer; beyond, uploads get 503 with Retry-After.
    pub ingest_queue: usize,
    /// Seconds between runs of the background jobs (lost contact, deadlines, purge).
    pub scheduler_seconds: u32,
    /// Administrative-unit table to use instead of the one compiled in.
    pub units_file: Option<PathBuf>,
    pub auth: AuthSettings,
    pub oversight: OversightSettings,
    pub policy: Policy,
}

/// The live feed and the webhooks that push it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OversightSettings {
    /// How often an open event stream looks for new events (it also sees other instances').
    pub stream_poll_millis: u32,
    /// Seconds between heartbeats on a quiet event stream.
    pub heartbeat_seconds: u32,
    /// How often the webhook deliverer looks for subscriptions with events to send.
    pub webhook_poll_millis: u32,
    /// A receiver must answer within this many seconds, or the attempt counts as failed.
    pub webhook_timeout_seconds: u32,
    /// Retries wait 1 s, 2 s, 4 s … up to this many seconds, until the receiver answers.
    pub webhook_max_backoff_seconds: u32,
    /// The hosts webhooks may be sent to: a name or address, or `.example.cn` for every host
    /// under a domain. Empty (the default) allows none: case events leave the service only for
    /// receivers the operator named.
    pub webhook_hosts: Vec<String>,
}

impl Default for OversightSettings {
    fn default() -> Self {
        OversightSettings {
            stream_poll_millis: 500,
            heartbeat_seconds: 15,
            webhook_poll_millis: 1000,
            webhook_timeout_seconds: 10,
            webhook_max_backoff_seconds: 900,
            webhook_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    System,
    Test,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `iss` of every token issued and the only one accepted.
    pub issuer: String,
    pub staff_token_minutes: u32,
    pub device_token_hours: u32,
    /// PKCS#8 PEM Ed25519 key; generated into the data directory when not given.
    pub signing_key_file: Option<PathBuf>,
    /// How long a user's or device's status may be cached: the longest a disabled user or a
    /// revoked device can go on using a token on another instance.
    pub status_cache_seconds: u32,
    /// Failed logins in a row before a user name is locked.
    pub login_max_failures: u32,
    /// First lock; each further failure doubles it up to `login_lockout_max_seconds`.
    pub login_lockout_seconds: u32,
    pub login_lockout_max_seconds: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            issuer: "liandong".into(),
            staff_token_minutes: 480,
            device_token_hours: 24,
            signing_key_file: None,
            status_cache_seconds: 5,
            login_max_failures: 5,
            login_lockout_seconds: 60,
            login_lockout_max_seconds: 900,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: ([127, 0, 0, 1], 8080).into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            time_zone: "Asia/Shanghai".into(),
            clock: ClockMode::System,
            max_body_bytes: 1 << 20,
            ingest_queue: 256,
            scheduler_seconds: 30,
            units_file: None,
            auth: AuthSettings::default(),
            oversight: OversightSettings::default(),
            policy: Policy::default(),
        }
    }
}

/// A value that must not reach logs (a database URL can carry a password).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Settings {
    /// Defaults → `file` (if given) → environment, then validated.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            anyhow::ensure!(path.is_file(), "settings file {} does not exist", path.display());
            figment = figment.merge(Toml::file_exact(path));
        }
        // Variables that configure the tools around the service, not the service itself.
        let env = Env::prefixed("LIANDONG_").split("__").ignore(&["config", "test_postgres_url", "log"]);
        let settings: Settings = figment.merge(env).extract().map_err(|e| {
            let e = e.into_iter().next().map(|e| e.to_string()).unwrap_or_default();
            anyhow::anyhow!("invalid setting: {e}")
        })?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.tz()?;
        let positive = [
            ("auth.staff_token_minutes", self.auth.staff_token_minutes),
            ("auth.device_token_hours", self.auth.device_token_hours),
            ("auth.login_max_failures", self.auth.login_max_failures),
            ("auth.login_lockout_seconds", self.auth.login_lockout_seconds),
            ("oversight.stream_poll_millis", self.oversight.stream_poll_millis),
            ("oversight.heartbeat_seconds", self.oversight.heartbeat_seconds),
            ("oversight.webhook_poll_millis", self.oversight.webhook_poll_millis),
            ("oversight.webhook_max_backoff_seconds", self.oversight.webhook_max_backoff_seconds),
        ];
        for (name, value) in positive {
            anyhow::ensure!(value > 0, "invalid setting {name}: must be at least 1");
        }
        anyhow::ensure!(
            self.auth.login_lockout_max_seconds >= self.auth.login_lockout_seconds,
            "invalid setting auth.login_lockout_max_seconds: must be at least auth.login_lockout_seconds"
        );
        anyhow::ensure!(!self.auth.issuer.trim().is_empty(), "invalid setting auth.issuer: must not be empty");
        anyhow::ensure!(self.max_body_bytes >= 1024, "invalid setting max_body_bytes: must be at least 1024");
        anyhow::ensure!(self.ingest_queue >= 1, "invalid setting ingest_queue: must be at least 1");
        // A delivery run stops a minute into its two-minute claim: one more attempt must end
        // before the claim lapses, or another instance could send the same event alongside.
        anyhow::ensure!(
            (1..=50).contains(&self.oversight.webhook_timeout_seconds),
            "invalid setting oversight.webhook_timeout_seconds: must be between 1 and 50"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.scheduler_seconds),
            "invalid setting scheduler_seconds: must be between 1 and 3600"
        );
        if let Some(url) = &self.database_url {
            let scheme_ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|s| url.0.starts_with(s));
            anyhow::ensure!(scheme_ok, "invalid setting database_url: must start with sqlite: or postgres://");
        }
        self.policy.validate()
    }

    pub fn tz(&self) -> anyhow::Result<chrono_tz::Tz> {
        self.time_zone
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid setting time_zone: {:?} is not an IANA time zone", self.time_zone))
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.0.clone(),
            None => format!("sqlite://{}", self.data_dir.join("liandong.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.policy.registration_days, 10);
        assert!(s.database_url().starts_with("sqlite://") && s.database_url().ends_with("liandong.db"));
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        let s = Settings { time_zone: "Mars/Olympus".into(), ..Settings::default() };
        assert!(s.validate().unwrap_err().to_string().contains("time_zone"));
        let mut s = Settings::default();
        s.policy.trip_office_max_days = 40;
        assert!(s.validate().unwrap_err().to_string().contains("policy.trip_office_max_days"));
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's test jail returns its own error type")]
    fn the_file_and_environment_override_defaults_in_that_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("l.toml", "listen = \"0.0.0.0:9000\"\n[policy]\nregistration_days = 12\n")?;
            jail.set_env("LIANDONG_POLICY__REGISTRATION_DAYS", "15");
            let s = Settings::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
            assert_eq!(s.policy.registration_days, 15);
            jail.set_env("LIANDONG_LISTEN", "not an address");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.to_lowercase().contains("listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment's test jail returns its own error type")]
    fn an_unknown_key_in_the_file_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("l.toml", "lisen = \"0.0.0.0:9000\"\n")?;
            let err = Settings::load(Some(Path::new("l.toml"))).unwrap_err().to_string();
            assert!(err.contains("lisen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret("postgres://u:hunter2@db/x".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
    }
}
