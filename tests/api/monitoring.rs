//! Monitoring orders: county heads approve, renew and lift; the scheduler warns before expiry.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;
use crate::supervision::alerts;

backend_tests!(county_heads_approve_renew_and_lift_monitoring_orders, orders_warn_before_they_expire_and_then_expire);

fn order(starts: DateTime<Utc>, days: i64) -> Value {
    json!({
        "ground": "left_without_approval", "reason": "2026年11月未经批准前往孝感",
        "starts_at": starts.to_rfc3339(), "ends_at": (starts + Duration::days(days)).to_rfc3339(),
    })
}

async fn county_heads_approve_renew_and_lift_monitoring_orders(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let head_token = t.user("ja-head", Role::CountyHead, "420102").await;
    let path = format!("/api/v1/persons/{person}/monitoring-orders");
    let now = t.app.clock.now();
    let by_officer = t.post(&path, &officer, order(now, 30)).await;
    assert_eq!(by_officer.status, StatusCode::FORBIDDEN, "{}", by_officer.body);
    t.office("wc", "420106").await;
    let wuchang_head = t.user("wc-head", Role::CountyHead, "420106").await;
    assert_eq!(t.post(&path, &wuchang_head, order(now, 30)).await.status, StatusCode::NOT_FOUND);
    let too_long = t.post(&path, &head_token, order(now, 93)).await;
    assert_eq!((too_long.status, too_long.field()), (StatusCode::UNPROCESSABLE_ENTITY, "ends_at"));
    let mut no_ground = order(now, 30);
    no_ground["ground"] = json!("bad_attitude");
    assert_eq!(t.post(&path, &head_token, no_ground).await.field(), "ground");

    let created = t.post(&path, &head_token, order(now, 30)).await;
    assert_eq!(
        (created.status, created.body["status"].as_str()),
        (StatusCode::CREATED, Some("active")),
        "{}",
        created.body
    );
    assert_eq!(t.post(&path, &head_token, order(now, 30)).await.status, StatusCode::CONFLICT, "one in force");
    let id = created.body["id"].as_i64().unwrap();
    let ends: DateTime<Utc> = created.body["ends_at"].as_str().unwrap().parse().unwrap();

    let renew = format!("{path}/{id}/renew");
    let beyond = json!({"ends_at": (ends + Duration::days(95)).to_rfc3339(), "reason": "评估后继续"});
    assert_eq!(t.post(&renew, &head_token, beyond).await.field(), "ends_at");
    let renewal = json!({"ends_at": (ends + Duration::days(60)).to_rfc3339(), "reason": "评估后继续"});
    let renewed = t.post(&renew, &head_token, renewal.clone()).await;
    assert_eq!((renewed.status, renewed.body["renewals"].as_i64()), (StatusCode::OK, Some(1)), "{}", renewed.body);

    let lift = format!("{path}/{id}/lift");
    let lifted = t.post(&lift, &head_token, json!({"reason": "表现良好，无需继续"})).await;
    assert_eq!(lifted.body["status"], "lifted");
    assert_eq!(t.post(&lift, &head_token, json!({"reason": "表现良好，无需继续"})).await.status, StatusCode::OK);
    assert_eq!(t.post(&renew, &head_token, renewal).await.status, StatusCode::CONFLICT);
    let listed = t.get(&path, &officer).await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), 1);
    let kinds =
        t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'monitoring_order.%' ORDER BY seq").await;
    assert_eq!(kinds, ["monitoring_order.created", "monitoring_order.renewed", "monitoring_order.lifted"]);
}

async fn orders_warn_before_they_expire_and_then_expire(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    t.post(&format!("/api/v1/persons/{person}/registration"), &officer, json!({"on": "2026-03-05"})).await;
    let head_token = t.user("ja-head", Role::CountyHead, "420102").await;
    let path = format!("/api/v1/persons/{person}/monitoring-orders");
    let created = t.post(&path, &head_token, order(t.app.clock.now(), 10)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(t.advance(2 * 86_400).await["expiring_orders"], 0);
    assert_eq!(t.advance(2 * 86_400).await["expiring_orders"], 1, "seven days before the end");
    assert_eq!(t.advance(3600).await["expiring_orders"], 0, "once");
    let officer = t.jiangan_token().await;
    let found = alerts(t, &officer, "kind=monitoring_order_expiring").await;
    assert_eq!(found[0]["evidence"]["monitoring_order_id"], created.body["id"]);
    assert_eq!(t.advance(7 * 86_400).await["expired_orders"], 1);
    let listed = t.get(&path, &t.jiangan_token().await).await;
    assert_eq!(listed.body["orders"][0]["status"], "expired");
    let alert = &alerts(t, &t.jiangan_token().await, "kind=monitoring_order_expiring").await[0];
    assert!(alert["episode_ended_at"].is_string());
}
