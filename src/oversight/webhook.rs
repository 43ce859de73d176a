//! Webhook subscriptions: the events of one jurisdiction pushed to an agency's own system (an SMS
//! gateway, a case system), signed, delivered at least once and in order, retried with backoff.
//!
//! Signature (documented in the README): header `Liandong-Signature: t=<unix seconds>,v1=<hex>`,
//! where `<hex>` is HMAC-SHA256 with the subscription's secret over `<t>.<body>`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::EventKind;
use crate::settings::Secret;
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where events are POSTed: `http://` or `https://`, without credentials in it.
    pub url: String,
    /// The event kinds wanted; empty or absent for every kind.
    #[serde(default)]
    pub kinds: Vec<EventKind>,
    /// Deliver the events after this `seq` (to catch up on the past); by default only new ones.
    pub after: Option<i64>,
}

impl WebhookRequest {
    /// Checks the request against the hosts the operator allows; answers the URL to store.
    pub fn validate(&self, allowed_hosts: &[String]) -> Result<String> {
        let url = check_url(&self.url, allowed_hosts)?;
        if self.after.is_some_and(|a| a < 0) {
            return Err(Error::invalid("after", "must not be negative"));
        }
        Ok(url)
    }
}

/// Whether `host` is one of `allowed`: the same name or address, or under an allowed `.domain`;
/// compared without case, brackets or a trailing dot.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let plain = |h: &str| h.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let host = plain(host);
    allowed.iter().map(|a| plain(a)).any(|a| a == host || (a.starts_with('.') && a.len() > 1 && host.ends_with(&a)))
}

/// Whether a stored URL may still be sent to: the allowlist may have narrowed since.
pub fn url_allowed(url: &str, allowed: &[String]) -> bool {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(|h| host_allowed(h, allowed))).unwrap_or(false)
}

fn check_url(text: &str, allowed_hosts: &[String]) -> Result<String> {
    let invalid = |reason: &str| Error::invalid("url", reason);
    if text.len() > 2000 {
        return Err(invalid("must be at most 2000 characters"));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("must not contain white space or control characters"));
    }
    let url = url::Url::parse(text).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials: payloads are signed instead"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    let host = url.host_str().unwrap_or_default();
    if !host_allowed(host, allowed_hosts) {
        return Err(invalid(&format!(
            "{host} is not among the receivers the operator allows (setting oversight.webhook_hosts)"
        )));
    }
    Ok(url.as_str().to_owned())
}

/// The host alone, for the oversight log: a URL's path or query may hold a receiver's token.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

/// A subscription about to be stored.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// As checked and normalised by [`WebhookRequest::validate`].
    pub url: String,
    pub kinds: Vec<EventKind>,
    pub secret: Secret,
    pub after: Option<i64>,
}

impl NewWebhook {
    pub fn new(url: String, request: &WebhookRequest) -> Result<Self> {
        let mut kinds = request.kinds.clone();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        Ok(NewWebhook { url, kinds, secret: new_secret()?, after: request.after })
    }
}

fn new_secret() -> Result<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(Secret(format!("whsec_{}", hex::encode(bytes))))
}

/// A subscription and how its delivery stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    /// `corrections` or `procuratorate`: the agency that owns it.
    pub agency: String,
    /// `office`, `county` or `city`: whose events it receives.
    pub scope_kind: String,
    pub scope: String,
    pub url: String,
    /// Empty: every kind.
    pub kinds: Vec<EventKind>,
    pub created_at: DateTime<Utc>,
    pub created_by: i64,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The last `seq` delivered or passed over; delivery resumes after it.
    pub cursor: i64,
    /// Events appended to the whole log since the cursor (an upper bound of what is owed).
    pub behind: i64,
    /// Failed attempts in a row on the event at the cursor; 0 when delivery is healthy.
    pub failures: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Shown once, when the subscription is created: it verifies the signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
    /// The most recent attempts, newest first (on a single subscription's page).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<WebhookAttempt>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// A subscription claimed for delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub scope_kind: String,
    pub scope: String,
    pub url: String,
    pub kinds: Vec<EventKind>,
    pub secret: Secret,
    pub cursor: i64,
    pub failures: i32,
    /// This claim's token: progress is recorded only while it holds.
    pub claim: String,
}

/// What a delivery run did with one subscription.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The receiver took the event: the cursor moves to it.
    Delivered(WebhookAttempt),
    /// It did not: retry the same event at the given time.
    Failed(WebhookAttempt, DateTime<Utc>),
    /// No event of the subscription up to here.
    PassedTo(i64),
    /// The run ends; another may claim the subscription.
    Released,
}

/// `Liandong-Signature` for a body sent at `t` (unix seconds).
pub fn signature(secret: &Secret, t: i64, body: &[u8]) -> String {
    let secret = secret.0.as_str();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long to wait after the `failures`-th failure in a row: 1 s, 2 s, 4 s … up to `max`.
pub fn backoff(failures: i32, max_seconds: u32) -> chrono::Duration {
    let exp = failures.clamp(1, 31) - 1;
    let seconds = (1u64 << exp).min(u64::from(max_seconds));
    chrono::Duration::seconds(seconds as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest { url: url.into(), kinds: vec![], after: None }
    }

    fn allowed() -> Vec<String> {
        vec!["10.0.0.5".into(), ".jiangan.gov.cn".into(), "example.com".into()]
    }

    #[test]
    fn only_plain_http_and_https_urls_to_allowed_hosts_are_accepted() {
        for ok in ["https://sms.jiangan.gov.cn/hook", "http://10.0.0.5:8080/in?token=x", "https://EXAMPLE.com"] {
            assert!(request(ok).validate(&allowed()).is_ok(), "{ok}");
        }
        let bad = [
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "not a url",
            "file:///etc",
            "https://example.com/a\tb",
            "http://169.254.169.254/latest/meta-data",
            "https://evil-jiangan.gov.cn/",
            "https://example.com.evil.cn/",
        ];
        for bad in bad {
            let err = request(bad).validate(&allowed()).unwrap_err().to_string();
            assert!(err.starts_with("url:"), "{bad}: {err}");
        }
        assert!(request("https://example.com/").validate(&[]).is_err(), "none allowed by default");
        assert!(request("https://Sms.JiangAn.gov.cn./in").validate(&[".JIANGAN.gov.cn.".into()]).is_ok());
        assert!(request("http://[fd00::5]:8080/in").validate(&["[fd00::5]".into()]).is_ok());
        assert!(request("https://gov.cn/").validate(&[".".into()]).is_err(), "a lone dot allows nothing");
        assert!(url_allowed("https://sms.jiangan.gov.cn/x", &allowed()));
        assert!(!url_allowed("https://sms.jiangan.gov.cn/x", &[]), "an allowlist narrowed since creation");
        assert_eq!(request("https://EXAMPLE.com").validate(&allowed()).unwrap(), "https://example.com/", "normalised");
    }

    #[test]
    fn the_log_keeps_only_the_host() {
        assert_eq!(host_of("https://sms.example.cn:8443/hook?token=secret"), "sms.example.cn");
    }

    #[test]
    fn signatures_follow_the_documented_recipe() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000.{}");
        let expected = format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature(&Secret("key".into()), 1_700_000_000, b"{}"), expected);
        assert_ne!(signature(&Secret("other".into()), 1_700_000_000, b"{}"), expected);
    }

    #[test]
    fn retries_back_off_exponentially_to_the_cap() {
        let secs: Vec<i64> = [1, 2, 3, 10, 40].iter().map(|f| backoff(*f, 900).num_seconds()).collect();
        assert_eq!(secs, [1, 2, 4, 512, 900]);
    }
}
