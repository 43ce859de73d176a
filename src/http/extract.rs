//! Extractors that answer bad input in our problem format and name the field at fault, and the
//! bearer-token extractors for staff and devices.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::problem::Problem;
use crate::app::App;
use crate::auth::{Actor, DeviceActor};
use crate::error::field_of;
use crate::oversight::canonical_json;
use crate::store::IdempotencyKey;
use crate::Error;

/// A JSON body; wrong syntax is a 400, wrong content a 422 naming the field.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(Problem::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "the body must be JSON, sent with Content-Type: application/json",
            )
            .with_field("Content-Type"));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::new(e.status(), "body-unreadable", "Request body not accepted", e.body_text()))?;
        parse_json(&bytes).map(AppJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    refuse_nul(bytes)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return Problem::malformed(None, format!("the body is not valid JSON: {inner}"));
        }
        let message = strip_position(&inner.to_string());
        let field = field_of(&path, &message);
        Problem::invalid(field, message)
    })
}

/// Refuses a JSON text with a NUL character in any string (PostgreSQL cannot store one, and no
/// field of this API wants one), naming where it is. The scan for the escape is cheap; the body
/// is walked only when it is there.
fn refuse_nul(bytes: &[u8]) -> Result<(), Problem> {
    let escaped = bytes.windows(6).any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000");
    if !escaped {
        return Ok(());
    }
    fn find(v: &serde_json::Value, path: String) -> Option<String> {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(path),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, item)| find(item, format!("{path}[{i}]")))
            }
            serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
                let key = if k.contains('\0') { return Some(path.clone()) } else { k };
                find(item, if path.is_empty() { key.clone() } else { format!("{path}.{key}") })
            }),
            _ => None,
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
    match find(&value, String::new()) {
        Some(field) => Err(Problem::invalid(field, "must not contain the NUL character")),
        None => Ok(()),
    }
}

/// Query parameters; a wrong value is a 400 naming the parameter.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((key, _)) =
            form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(Problem::malformed(
                Some(key.to_string()),
                format!("{key}: must not contain the NUL character"),
            ));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(AppQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = field_of(&path, &message);
            Problem::malformed(Some(field.clone()), format!("{field}: {message}"))
        })
    }
}

/// Path parameters; a malformed one is a 400 naming it.
pub struct AppPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for AppPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| AppPath(v)).map_err(|e| match e {
            PathRejection::FailedToDeserializePathParams(inner) => {
                let key = match inner.kind() {
                    axum::extract::path::ErrorKind::ParseErrorAtKey { key, .. } => Some(key.clone()),
                    _ => None,
                };
                Problem::malformed(key, inner.body_text())
            }
            other => Problem::malformed(None, other.body_text()),
        })
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn bearer(parts: &Parts) -> Result<&str, Error> {
    let value =
        parts.headers.get(AUTHORIZATION).ok_or(Error::Unauthorized("an Authorization: Bearer token is required"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Error::Unauthorized("an Authorization: Bearer token is required"))
}

/// An authenticated staff member.
pub struct Staff(pub Actor);

impl FromRequestParts<Arc<App>> for Staff {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(Staff(app.auth.staff(token).await?))
    }
}

/// An authenticated staff member and the token they came with, for a long-lived response (an
/// event stream) that checks again, as it goes, that the token still holds.
pub struct StaffToken(pub Actor, pub String);

impl FromRequestParts<Arc<App>> for StaffToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(StaffToken(app.auth.staff(token).await?, token.to_owned()))
    }
}

/// An authenticated phone or tag.
pub struct DeviceAuth(pub DeviceActor);

impl FromRequestParts<Arc<App>> for DeviceAuth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        Ok(DeviceAuth(app.auth.device(token).await?))
    }
}

/// A staff member or a device: endpoints both may call (a phone applies for travel itself).
pub enum Caller {
    Staff(Actor),
    Device(DeviceActor),
}

impl Caller {
    /// The staff member or the device, as the store's methods for either take them.
    pub fn parts(&self) -> (Option<&Actor>, Option<&DeviceActor>) {
        match self {
            Caller::Staff(actor) => (Some(actor), None),
            Caller::Device(device) => (None, Some(device)),
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        // The audiences differ: a token is one or the other, never both.
        match app.auth.staff(token).await {
            Ok(actor) => Ok(Caller::Staff(actor)),
            Err(staff_error) => app.auth.device(token).await.map(Caller::Device).map_err(|_| staff_error.into()),
        }
    }
}

/// The optional `Idempotency-Key` header of a create that clients may retry.
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyHeader(None));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Problem::malformed(
                    Some("Idempotency-Key".into()),
                    "Idempotency-Key: must be 1–255 visible ASCII characters",
                )
            })?;
        Ok(IdempotencyHeader(Some(key.to_owned())))
    }
}

impl IdempotencyHeader {
    /// The key as the store keeps it: per principal, bound to this exact request.
    pub fn bind(self, principal: &str, route: &str, body: &impl Serialize) -> Option<IdempotencyKey> {
        let key = self.0?;
        let body = serde_json::to_value(body).map(|v| canonical_json(&v)).unwrap_or_default();
        let request_hash = hex::encode(Sha256::digest(format!("{route}\n{body}").as_bytes()));
        Some(IdempotencyKey { principal: principal.to_owned(), key, request_hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the deserialisation errors matter")]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the deserialisation errors matter")]
    struct Inner {
        n: u8,
    }

    fn field(json: &str) -> (u16, Option<String>) {
        let p = parse_json::<Body>(json.as_bytes()).unwrap_err();
        (p.status, p.field)
    }

    #[test]
    fn each_kind_of_bad_json_names_its_field() {
        assert_eq!(field("{"), (400, None));
        assert_eq!(field("{}"), (422, Some("name".into())));
        assert_eq!(field(r#"{"name": 5}"#), (422, Some("name".into())));
        assert_eq!(field(r#"{"name": "a", "extra": 1}"#), (422, Some("extra".into())));
        assert_eq!(field(r#"{"name": "a", "inner": {"n": 300}}"#), (422, Some("inner.n".into())));
        assert_eq!(field(r#"{"name": "a", "inner": {}}"#), (422, Some("inner.n".into())));
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        assert_eq!(field(r#"{"name": "a\u0000b"}"#), (422, Some("name".into())));
        assert_eq!(
            field(r#"{"name": "a", "inner": {"n": 1}, "list": ["x", "\u0000"]}"#),
            (422, Some("list[1]".into()))
        );
        assert!(parse_json::<Body>(br#"{"name": "a\\u0000"}"#).is_ok(), "an escaped backslash then u0000 is no NUL");
    }
}
