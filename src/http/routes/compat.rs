//! Off-the-shelf tracking apps as check-in clients, unchanged: the OsmAnd / Traccar Client
//! protocol (the device key in `id`) and OwnTracks' HTTP mode (Basic auth `device_id:device_key`).
//! Both feed the same pipeline as `POST /api/v1/checkins`. The key in an OsmAnd URL never reaches
//! a log: spans carry the matched route only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::checkins::ingest;
use crate::app::App;
use crate::http::extract::parse_json;
use crate::http::problem::Problem;
use crate::Error;

/// Accuracy assumed when a client sends none: a cautious figure, so a bare fix near an edge is
/// `uncertain` rather than evidence.
const UNKNOWN_ACCURACY_M: f64 = 100.0;

/// OsmAnd / Traccar Client: `id` (the device key), `lat`, `lon`, `timestamp` (Unix seconds or
/// milliseconds, or RFC 3339), `accuracy` in metres; as query or form parameters.
#[utoipa::path(method(get, post), path = "/api/v1/compat/osmand", tag = "compat", params(
    ("id" = String, Query, description = "the device key"), ("lat" = f64, Query), ("lon" = f64, Query),
    ("timestamp" = String, Query), ("accuracy" = Option<f64>, Query)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "the same parameters as a form, instead of the query"),
    responses((status = 200, description = "stored"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn osmand(State(app): State<Arc<App>>, RawQuery(query): RawQuery, body: Bytes) -> Result<(), Problem> {
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    params.extend(form_urlencoded::parse(&body).into_owned());
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let key = get("id").or_else(|| get("deviceid")).ok_or(Error::Unauthorized("the device key (id) is required"))?;
    let device = app.auth.device_by_key(None, key).await?;
    let number = |name: &str| -> Result<f64, Error> {
        let raw = get(name).ok_or_else(|| Error::invalid(name, "is required"))?;
        raw.parse().map_err(|_| Error::invalid(name, "is not a number"))
    };
    let (lat, lon) = (number("lat")?, number("lon")?);
    let accuracy = if get("accuracy").is_some() { number("accuracy")? } else { UNKNOWN_ACCURACY_M };
    let at = parse_time(get("timestamp").ok_or_else(|| Error::invalid("timestamp", "is required"))?)?;
    let fix = json!({
        "id": format!("osmand-{}-{}", device.device_id, at.timestamp_millis()),
        "at": at, "lat": lat, "lon": lon, "accuracy_m": accuracy, "crs": "wgs84",
    });
    ingest(&app, device, &[fix], &[]).await.map(|_| ())
}

/// Unix seconds, Unix milliseconds, or RFC 3339.
fn parse_time(raw: &str) -> Result<DateTime<Utc>, Error> {
    let bad = || Error::invalid("timestamp", "must be Unix seconds or milliseconds, or RFC 3339");
    if let Ok(n) = raw.parse::<i64>() {
        let t = if n.abs() >= 100_000_000_000 { Utc.timestamp_millis_opt(n) } else { Utc.timestamp_opt(n, 0) };
        return t.single().ok_or_else(bad);
    }
    DateTime::parse_from_rfc3339(raw).map(|t| t.to_utc()).map_err(|_| bad())
}

/// OwnTracks HTTP mode: a `_type: location` message with `lat`, `lon`, `tst` (Unix seconds) and
/// `acc`; other message types are acknowledged and ignored. Answers `[]`, as OwnTracks expects.
#[utoipa::path(post, path = "/api/v1/compat/owntracks", tag = "compat",
    request_body(content = Object, content_type = "application/json", description = "an OwnTracks message"),
    security(("basic" = [])),
    responses((status = 200, description = "stored (an empty JSON array)"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn owntracks(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, Problem> {
    let (device_id, key) = basic_credentials(&headers)?;
    let device = app.auth.device_by_key(Some(device_id), &key).await?;
    let message: Value = parse_json(&body)?;
    if message.get("_type").and_then(Value::as_str) != Some("location") {
        return Ok(Json(json!([])));
    }
    let tst = message.get("tst").and_then(Value::as_i64).ok_or_else(|| Error::invalid("tst", "is required"))?;
    let at = Utc.timestamp_opt(tst, 0).single().ok_or_else(|| Error::invalid("tst", "is out of range"))?;
    let fix = json!({
        "id": format!("owntracks-{tst}"),
        "at": at,
        "lat": message.get("lat").cloned().unwrap_or(Value::Null),
        "lon": message.get("lon").cloned().unwrap_or(Value::Null),
        "accuracy_m": message.get("acc").cloned().unwrap_or(json!(UNKNOWN_ACCURACY_M)),
        "crs": "wgs84",
    });
    ingest(&app, device, &[fix], &[]).await?;
    Ok(Json(json!([])))
}

fn basic_credentials(headers: &HeaderMap) -> Result<(i64, String), Error> {
    const NEEDED: &str = "HTTP Basic credentials device_id:device_key are required";
    let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(Error::Unauthorized(NEEDED))?;
    let encoded = value.strip_prefix("Basic ").ok_or(Error::Unauthorized(NEEDED))?;
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| Error::Unauthorized(NEEDED))?;
    let text = String::from_utf8(decoded).map_err(|_| Error::Unauthorized(NEEDED))?;
    let (id, key) = text.split_once(':').ok_or(Error::Unauthorized(NEEDED))?;
    Ok((id.parse().map_err(|_| Error::Unauthorized(NEEDED))?, key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_the_forms_tracking_apps_send() {
        let t = parse_time("1767225600").unwrap();
        assert_eq!(t, parse_time("1767225600000").unwrap());
        assert_eq!(t, parse_time("2026-01-01T00:00:00Z").unwrap());
        assert!(parse_time("yesterday").unwrap_err().to_string().starts_with("timestamp"));
    }
}
