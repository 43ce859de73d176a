//! Check-in uploads: each fix judged alone, stored once, answered after the commit.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;

backend_tests!(
    a_phone_uploads_fixes_and_learns_where_it_is,
    a_retried_upload_is_recognised_not_stored_twice,
    bad_fixes_are_refused_one_by_one,
);

/// A Jiang'an resident's phone token.
async fn phone(t: &TestApp) -> (String, String, i64) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let device = t.phone(&officer, person).await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/persons/{person}/devices/{}", device["device_id"]);
    (token, path, person)
}

fn fix(id: &str, minutes_ago: i64, lon: f64, lat: f64, crs: &str) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({"id": id, "at": at.to_rfc3339(), "lon": lon, "lat": lat, "accuracy_m": 15.0, "crs": crs})
}

async fn a_phone_uploads_fixes_and_learns_where_it_is(t: &TestApp) {
    let (token, _, _) = phone(t).await;
    // Wuchang (GCJ-02 from a Chinese map SDK), then Xiaogan's Xiaonan district (WGS-84).
    let wuchang = fix("f1", 20, 114.316, 30.554, "gcj02");
    let reply = t.post("/api/v1/checkins", &token, json!({"fixes": [wuchang]})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!((reply.body["accepted"].as_u64(), reply.body["placement"].as_str()), (Some(1), Some("inside")));
    assert_eq!(reply.body["place"], json!({"adcode": "420106", "name": "武昌区"}));
    let xiaonan = fix("f2", 5, 113.92, 30.92, "wgs84");
    let reply = t.post("/api/v1/checkins", &token, json!({"fixes": [xiaonan]})).await;
    assert_eq!(
        (reply.body["placement"].as_str(), reply.body["place"]["adcode"].as_str()),
        (Some("outside"), Some("420902"))
    );
    assert_eq!(t.count("fixes").await, 2);
}

async fn a_retried_upload_is_recognised_not_stored_twice(t: &TestApp) {
    let (token, revoke, _) = phone(t).await;
    let backlog: Vec<Value> = (0..50).map(|i| fix(&format!("b{i}"), 200 - i, 114.3, 30.6, "wgs84")).collect();
    let first = t.post("/api/v1/checkins", &token, json!({"fixes": backlog.clone()})).await;
    assert_eq!(first.body["accepted"], 50, "{}", first.body);
    let retry = t.post("/api/v1/checkins", &token, json!({"fixes": backlog.clone()})).await;
    assert_eq!(
        (retry.status, retry.body["accepted"].as_u64(), retry.body["duplicates"].as_u64()),
        (StatusCode::OK, Some(0), Some(50))
    );
    let mut moved = backlog[3].clone();
    moved["lon"] = json!(114.4);
    let conflict = t.post("/api/v1/checkins", &token, json!({"fixes": [moved, backlog[4].clone()]})).await;
    assert_eq!(conflict.body["duplicates"], 1);
    assert_eq!(conflict.body["rejected"][0]["index"], 0);
    assert!(conflict.body["rejected"][0]["detail"].as_str().unwrap().starts_with("id:"));
    assert_eq!(t.count("fixes").await, 50);

    t.call(Method::DELETE, &revoke, Some(&t.jiangan_token().await), None).await;
    let revoked = t.post("/api/v1/checkins", &token, json!({"fixes": [fix("late", 1, 114.3, 30.6, "wgs84")]})).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}

async fn bad_fixes_are_refused_one_by_one(t: &TestApp) {
    let (token, _, _) = phone(t).await;
    let good = fix("ok", 1, 114.3, 30.6, "wgs84");
    let with = |field: &str, value: Value| {
        let mut f = good.clone();
        f[field] = value;
        f
    };
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let fixes = vec![
        good.clone(),
        with("lat", json!(95.0)),
        with("lon", json!("east")),
        with("at", json!(future)),
        with("accuracy_m", json!(-3.0)),
        with("crs", json!("utm50")),
        with("id", json!("")),
        json!({"id": "x"}),
    ];
    let reply = t.post("/api/v1/checkins", &token, json!({"fixes": fixes})).await;
    assert_eq!((reply.status, reply.body["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{}", reply.body);
    let fields: Vec<String> = reply.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["detail"].as_str().unwrap().split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["lat", "lon", "at", "accuracy_m", "crs", "id", "at"]);

    let none = t.post("/api/v1/checkins", &token, json!({"fixes": [with("lat", json!(-91.0))]})).await;
    assert_eq!((none.status, none.field()), (StatusCode::UNPROCESSABLE_ENTITY, "fixes"));
    assert_eq!(none.body["rejected"][0]["index"], 0);
    let too_many: Vec<Value> = (0..1001).map(|i| fix(&format!("n{i}"), 1, 114.3, 30.6, "wgs84")).collect();
    let reply = t.post("/api/v1/checkins", &token, json!({"fixes": too_many})).await;
    assert_eq!((reply.status, reply.field()), (StatusCode::UNPROCESSABLE_ENTITY, "fixes"));
    let staff = t.jiangan_token().await;
    assert_eq!(t.post("/api/v1/checkins", &staff, json!({"fixes": [good]})).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.count("fixes").await, 1);
}
