//! The oversight summary: what a procurator asks every Monday, counted for its jurisdiction.

use axum::http::StatusCode;
use chrono::{Days, Duration};
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;
use crate::supervision::{fix_at, upload};

backend_tests!(the_summary_counts_alerts_decisions_and_consultations_of_the_jurisdiction_only);

async fn summary(t: &TestApp, token: &str) -> Value {
    let reply = t.get("/api/v1/oversight/summary?days=7", token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn the_summary_counts_alerts_decisions_and_consultations_of_the_jurisdiction_only(t: &TestApp) {
    let (_, person, phone) = crate::supervision::supervised(t).await;
    t.office("wc", "420106").await;
    let ja_proc = t.user("ja-proc", Role::Procurator, "420102").await;
    let wc_proc = t.user("wc-proc", Role::Procurator, "420106").await;
    // Far outside Wuhan: an absence alert, not acknowledged within its 30 minutes.
    upload(t, &phone, vec![fix_at("far", t.app.clock.now(), 113.92, 30.92, 20.0)]).await;
    let before = summary(t, &ja_proc).await;
    assert_eq!(before["open_alerts"]["under_1h"], 1, "{before}");
    assert_eq!(before["open_alerts_by_kind"]["unapproved_absence"], 1);
    t.test_clock_advance(2 * 3600);
    let officer_now = t.jiangan_token().await;
    let alert = &crate::supervision::alerts(t, &officer_now, "status=open").await[0];
    let path = format!("/api/v1/alerts/{}/acknowledge", alert["id"]);
    let late = summary(t, &ja_proc).await;
    assert_eq!(
        (late["open_alerts"]["under_24h"].as_i64(), late["unacknowledged_past_deadline"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(t.post(&path, &officer_now, json!({})).await.status, StatusCode::OK);

    // Two applications: one approved by the office level's rule, one waiting on a consultation.
    let trip = |starts_in: u64, days: u64| {
        let starts = t.app.today() + Days::new(starts_in);
        json!({
            "person_id": person, "kind": "trip", "destinations": ["420900"], "starts_on": starts,
            "ends_on": starts + Days::new(days - 1), "reason_category": "medical", "reason": "复查",
        })
    };
    let short = t.post("/api/v1/travel-applications", &officer_now, trip(7, 3)).await;
    let decide = format!("/api/v1/travel-applications/{}/decision", short.body["id"]);
    let decided = t.post(&decide, &officer_now, json!({"approve": true, "reason": "同意"})).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let long = t.post("/api/v1/travel-applications", &officer_now, trip(14, 10)).await;
    let ask = format!("/api/v1/travel-applications/{}/consultation", long.body["id"]);
    let deadline = (t.app.clock.now() + Duration::days(2)).to_rfc3339();
    let asked = t.post(&ask, &officer_now, json!({"question": "请提出意见", "deadline": deadline})).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);

    let now = summary(t, &ja_proc).await;
    assert_eq!(now["acknowledged_late"], 1, "{now}");
    assert_eq!(now["unacknowledged_past_deadline"], 0);
    assert_eq!(now["open_alerts"]["under_24h"], 1, "acknowledged is not resolved");
    let level = short.body["decided_by"].as_str().unwrap();
    assert_eq!(now["approvals_by_level"][level], json!({"approved": 1, "rejected": 0, "against_opinion": 0}));
    assert_eq!((now["consultations_pending"].as_i64(), now["consultations_overdue"].as_i64()), (Some(1), Some(0)));

    // Wuchang's procurator sees none of it; officers ask of their own scope.
    let wuchang = summary(t, &wc_proc).await;
    assert_eq!(wuchang["open_alerts"], json!({"under_1h": 0, "under_24h": 0, "under_7d": 0, "over_7d": 0}));
    assert_eq!((wuchang["acknowledged_late"].as_i64(), wuchang["consultations_pending"].as_i64()), (Some(0), Some(0)));
    assert_eq!(wuchang["approvals_by_level"], json!({}));
    assert_eq!(summary(t, &officer_now).await["acknowledged_late"], 1);
    let bad = t.get("/api/v1/oversight/summary?days=0", &ja_proc).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::BAD_REQUEST, "days"));
}
