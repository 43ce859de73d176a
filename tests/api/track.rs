//! Track reads: in scope, for a purpose, every read on the record.

use axum::http::StatusCode;
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;

backend_tests!(a_track_is_read_for_a_purpose_and_the_read_is_recorded);

async fn a_track_is_read_for_a_purpose_and_the_read_is_recorded(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let device = t.phone(&officer, person).await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let fixes: Vec<Value> = (0..5)
        .map(|i| {
            let at = now - chrono::Duration::minutes(50 - i * 10);
            json!({"id": format!("t{i}"), "at": at.to_rfc3339(), "lon": 114.316, "lat": 30.554, "accuracy_m": 9.0, "crs": "gcj02"})
        })
        .collect();
    assert_eq!(t.post("/api/v1/checkins", &token, json!({"fixes": fixes})).await.body["accepted"], 5);

    let path = format!("/api/v1/persons/{person}/track?purpose=weekly%20review&limit=3");
    let page = t.get(&path, &officer).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let first: Vec<&str> = page.body["fixes"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(first, ["t0", "t1", "t2"], "in position-time order");
    let fix = &page.body["fixes"][0];
    assert_eq!((fix["sent"]["crs"].as_str(), fix["adcode"].as_str()), (Some("gcj02"), Some("420106")));
    assert!((fix["lon"].as_f64().unwrap() - 114.316).abs() > 0.003, "answered in WGS-84, not as sent");
    let next = page.body["next"].as_str().unwrap();
    let rest = t.get(&format!("{path}&after={}", next.replace('+', "%2B")), &officer).await;
    assert_eq!(rest.body["fixes"].as_array().unwrap().len(), 2, "{}", rest.body);

    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    let read = t.get(&format!("/api/v1/persons/{person}/track?purpose=oversight%20of%20case"), &procurator).await;
    assert_eq!(read.body["fixes"].as_array().unwrap().len(), 5);
    let events = t.app.store.events_after(0, 1000).await.unwrap();
    let reads: Vec<_> = events.iter().filter(|e| e.kind == "track.read").collect();
    assert_eq!(reads.len(), 3, "every read, by officers and procurators alike");
    assert!(reads[2].data.contains("oversight of case") && !reads[2].data.contains("114."), "{}", reads[2].data);

    let events_before = t.count("oversight_events").await;
    let no_purpose = t.get(&format!("/api/v1/persons/{person}/track"), &officer).await;
    assert_eq!((no_purpose.status, no_purpose.field()), (StatusCode::BAD_REQUEST, "purpose"));
    let backwards = t
        .get(
            &format!("/api/v1/persons/{person}/track?purpose=check&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z"),
            &officer,
        )
        .await;
    assert_eq!((backwards.status, backwards.field()), (StatusCode::BAD_REQUEST, "from"));
    let bad_cursor = t.get(&format!("/api/v1/persons/{person}/track?purpose=check&after=xyz"), &officer).await;
    assert_eq!((bad_cursor.status, bad_cursor.field()), (StatusCode::BAD_REQUEST, "after"));
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", Role::CountyOfficer, "420106").await;
    let outside = t.get(&format!("/api/v1/persons/{person}/track?purpose=curiosity"), &wuchang).await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.count("oversight_events").await,
        events_before + 2,
        "refused reads record nothing (the new office and user do)"
    );
}
