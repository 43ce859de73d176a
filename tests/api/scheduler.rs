//! The background jobs on the test clock: lost contact, missed check-ins and registrations,
//! acknowledgement deadlines, tag events and the end of supervision.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{person_body, TestApp};
use crate::supervision::{alerts, fix_at, supervised, supervised_device, upload};

backend_tests!(
    a_silent_phone_is_lost_contact_until_it_reports_again,
    an_unanswered_checkin_request_is_missed,
    a_person_who_never_reported_in_is_missed_registration,
    an_alert_not_acknowledged_in_time_is_an_event,
    a_tag_reports_tampering,
    no_alert_after_supervision_ended,
    one_instance_runs_the_jobs_at_a_time,
    random_spot_checks_ask_persons_to_check_in,
    officers_record_the_sanctions_episodes_point_to,
    fixes_are_purged_after_the_retention_period_except_evidence,
);

const HOME: (f64, f64) = (114.30, 30.62);

async fn a_silent_phone_is_lost_contact_until_it_reports_again(t: &TestApp) {
    let (_, person, device) = supervised_device(t).await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    upload(t, &token, vec![fix_at("a", t.app.clock.now(), HOME.0, HOME.1, 10.0)]).await;
    assert_eq!(t.advance(23 * 3600).await["lost_contact"], 0);
    assert_eq!(t.advance(2 * 3600).await["lost_contact"], 1);
    assert_eq!(t.advance(600).await["lost_contact"], 0, "one alert per episode");
    // A day later, everyone signs in again.
    let officer = t.jiangan_token().await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let found = alerts(t, &officer, "kind=lost_contact").await;
    assert_eq!(found.len(), 1);
    assert!(found[0]["evidence"]["device_id"].is_i64());
    let shown = t.get(&format!("/api/v1/persons/{person}"), &officer).await;
    assert_eq!(shown.body["state"], "lost");
    let back = upload(t, &token, vec![fix_at("b", t.app.clock.now(), HOME.0, HOME.1, 10.0)]).await;
    assert_eq!(back["state"], "inside");
    let shown = t.get(&format!("/api/v1/persons/{person}"), &officer).await;
    let episode = &shown.body["episodes"][0];
    assert_eq!((episode["kind"].as_str(), episode["days"].as_i64()), (Some("lost_contact"), Some(1)));
    assert_eq!(episode["points_to"], "admonition");
    assert!(episode["until"].is_string());
    let silent = &shown.body["silent_periods"][0];
    assert!(silent["hours"].as_f64().unwrap() > 25.0, "{}", shown.body);
}

async fn an_unanswered_checkin_request_is_missed(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    let path = format!("/api/v1/persons/{person}/checkin-requests");
    let answered = t.post(&path, &officer, json!({})).await;
    assert_eq!(answered.status, StatusCode::CREATED, "{}", answered.body);
    let me = t.get("/api/v1/me", &token).await;
    assert_eq!(me.body["checkin_requests"].as_array().unwrap().len(), 1, "{}", me.body);
    upload(t, &token, vec![fix_at("answer", t.app.clock.now(), HOME.0, HOME.1, 10.0)]).await;
    let me = t.get("/api/v1/me", &token).await.body;
    assert!(me["checkin_requests"].as_array().unwrap().is_empty());
    let time = |field: &str| me[field].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(time("next_fix_due") - time("last_fix_at"), Duration::minutes(15), "{me}");
    assert_eq!(me["allowed_area"], "武汉市市辖区");

    let bad = t.post(&path, &officer, json!({"deadline": "2020-01-01T00:00:00Z"})).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "deadline"));
    t.post(&path, &officer, json!({})).await;
    assert_eq!(t.advance(59 * 60).await["missed_checkins"], 0);
    assert_eq!(t.advance(2 * 60).await["missed_checkins"], 1);
    let found = alerts(t, &officer, "kind=missed_checkin").await;
    assert_eq!(found.len(), 1);
    let requests = t.get(&path, &officer).await.body["requests"].as_array().unwrap().clone();
    assert!(requests[0]["missed_at"].is_string() && requests[1]["answered_at"].is_string(), "{requests:?}");
    assert_eq!(requests[1]["answer_fix"], "answer");
}

async fn a_person_who_never_reported_in_is_missed_registration(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let mut body = person_body("ja", "420102");
    body["category"] = json!("temporary_release");
    let person = t.post("/api/v1/persons", &officer, body).await.body["id"].as_i64().unwrap();
    let on_time = t.enrol(&officer).await;
    t.post(&format!("/api/v1/persons/{on_time}/registration"), &officer, json!({"on": "2026-03-05"})).await;
    assert_eq!(t.advance(60).await["missed_registrations"], 1);
    let found = alerts(t, &officer, "kind=missed_registration").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["person_id"], person);
    assert!(found[0]["evidence"]["detail"].as_str().unwrap().contains("custodian"), "{}", found[0]);
    assert_eq!(t.advance(60).await["missed_registrations"], 0);
    // Reporting in late ends the episode; its length points to a sanction.
    let today = t.app.today().to_string();
    let registered = t.post(&format!("/api/v1/persons/{person}/registration"), &officer, json!({"on": today})).await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let shown = t.get(&format!("/api/v1/persons/{person}"), &officer).await;
    let episode = &shown.body["episodes"][0];
    assert!(episode["until"].is_string(), "{episode}");
    assert_eq!(episode["points_to"], "return_to_prison_proposal", "months late");
}

async fn an_alert_not_acknowledged_in_time_is_an_event(t: &TestApp) {
    let (_, _, token) = supervised(t).await;
    upload(t, &token, vec![fix_at("far", t.app.clock.now(), 113.92, 30.92, 20.0)]).await;
    assert_eq!(t.advance(29 * 60).await["missed_acknowledgements"], 0);
    assert_eq!(t.advance(2 * 60).await["missed_acknowledgements"], 1);
    let alert = &alerts(t, &t.jiangan_token().await, "").await[0];
    assert!(alert["ack_missed_at"].is_string());
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'alert.%' ORDER BY seq").await;
    assert_eq!(kinds, ["alert.opened", "alert.ack_deadline_missed"]);
    assert_eq!(t.advance(3600).await["missed_acknowledgements"], 0);
}

async fn a_tag_reports_tampering(t: &TestApp) {
    let (officer, person, phone) = supervised(t).await;
    let tag = t.post(&format!("/api/v1/persons/{person}/devices"), &officer, json!({"kind": "tag"})).await.body;
    let token = t.device_token(&tag).await.body["access_token"].as_str().unwrap().to_owned();
    let now = t.app.clock.now();
    let opened = json!({"id": "e1", "at": now.to_rfc3339(), "kind": "strap_opened"});
    let reply = t.post("/api/v1/checkins", &token, json!({"events": [opened.clone()]})).await;
    assert_eq!((reply.status, reply.body["events_accepted"].as_u64()), (StatusCode::OK, Some(1)), "{}", reply.body);
    let again = t.post("/api/v1/checkins", &token, json!({"events": [opened]})).await;
    assert_eq!((again.body["events_accepted"].as_u64(), again.body["duplicates"].as_u64()), (Some(0), Some(1)));
    let found = alerts(t, &officer, "kind=device_tamper").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["evidence"]["device_id"], tag["device_id"]);
    let closed = json!({"id": "e2", "at": (now + Duration::seconds(1)).to_rfc3339(), "kind": "strap_closed"});
    t.post("/api/v1/checkins", &token, json!({"events": [closed]})).await;
    assert!(alerts(t, &officer, "kind=device_tamper").await[0]["episode_ended_at"].is_string());
    // Events out of order: the strap closed (sent first) after it opened (sent later).
    let closed = json!({"id": "e4", "at": (now + Duration::seconds(20)).to_rfc3339(), "kind": "strap_closed"});
    let opened = json!({"id": "e3", "at": (now + Duration::seconds(10)).to_rfc3339(), "kind": "strap_opened"});
    t.post("/api/v1/checkins", &token, json!({"events": [closed]})).await;
    t.post("/api/v1/checkins", &token, json!({"events": [opened]})).await;
    let found = alerts(t, &officer, "kind=device_tamper").await;
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|a| a["episode_ended_at"].is_string()), "{found:?}");
    // The same id and time with another kind is a conflict, not a retry.
    let other = json!({"id": "e1", "at": now.to_rfc3339(), "kind": "battery_low"});
    let conflict = t.post("/api/v1/checkins", &token, json!({"events": [other]})).await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", conflict.body);
    assert_eq!(conflict.body["rejected"][0]["list"], "events");
    // Phones have no strap.
    let from_phone = json!({"events": [{"id": "p", "at": now.to_rfc3339(), "kind": "battery_low"}]});
    let refused = t.post("/api/v1/checkins", &phone, from_phone).await;
    assert_eq!((refused.status, refused.field()), (StatusCode::UNPROCESSABLE_ENTITY, "events"));
    let unknown = json!({"events": [{"id": "u", "at": now.to_rfc3339(), "kind": "exploded"}]});
    assert_eq!(t.post("/api/v1/checkins", &token, unknown).await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn no_alert_after_supervision_ended(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    t.post(&format!("/api/v1/persons/{person}/checkin-requests"), &officer, json!({})).await;
    let head = t.user("ja-head", liandong::auth::Role::CountyHead, "420102").await;
    let order = json!({"ground": "left_without_approval", "reason": "未经批准外出", "starts_at": t.app.clock.now(),
        "ends_at": t.app.clock.now() + Duration::days(30)});
    let order = t.post(&format!("/api/v1/persons/{person}/monitoring-orders"), &head, order).await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    let typo = json!({"on": "2016-11-29", "reason": "completed"});
    let refused = t.post(&format!("/api/v1/persons/{person}/end"), &officer, typo).await;
    assert_eq!((refused.status, refused.field()), (StatusCode::UNPROCESSABLE_ENTITY, "on"), "a mistyped year");
    let today = t.app.today().to_string();
    let ending = json!({"on": today, "reason": "completed"});
    let ended = t.post(&format!("/api/v1/persons/{person}/end"), &officer, ending.clone()).await;
    assert_eq!((ended.status, ended.body["state"].as_str()), (StatusCode::OK, Some("ended")), "{}", ended.body);
    assert_eq!(t.post(&format!("/api/v1/persons/{person}/end"), &officer, ending).await.status, StatusCode::OK);
    let other = json!({"on": today, "reason": "revoked"});
    assert_eq!(t.post(&format!("/api/v1/persons/{person}/end"), &officer, other).await.status, StatusCode::CONFLICT);
    let late =
        t.post("/api/v1/checkins", &token, json!({"fixes": [fix_at("x", t.app.clock.now(), 113.9, 30.9, 9.0)]})).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "the device no longer works");
    let jobs = t.advance(3 * 86_400).await;
    assert_eq!((jobs["lost_contact"].as_u64(), jobs["missed_checkins"].as_u64()), (Some(0), Some(0)));
    assert!(alerts(t, &t.jiangan_token().await, "").await.is_empty());
    let kinds = t.raw().strings("SELECT kind FROM oversight_events ORDER BY seq DESC LIMIT 2").await;
    assert_eq!(kinds, ["person.supervision_ended", "monitoring_order.lifted"]);
    let officer = t.jiangan_token().await;
    let requests = t.get(&format!("/api/v1/persons/{person}/checkin-requests"), &officer).await;
    assert!(requests.body["requests"][0]["cancelled_at"].is_string(), "{}", requests.body);
    let orders = t.get(&format!("/api/v1/persons/{person}/monitoring-orders"), &officer).await;
    assert_eq!(orders.body["orders"][0]["status"], "lifted");
}

async fn one_instance_runs_the_jobs_at_a_time(t: &TestApp) {
    let (other, _) = t.second_instance().await;
    assert!(liandong::scheduler::run_once(&t.app).await.unwrap().is_some());
    assert!(liandong::scheduler::run_once(&other).await.unwrap().is_none(), "the lease is held");
    assert!(liandong::scheduler::run_once(&t.app).await.unwrap().is_some(), "the holder renews");
    other.store.close().await;
}

async fn random_spot_checks_ask_persons_to_check_in(t: &TestApp) {
    let (_, person, token) = supervised(t).await;
    let (spot, _) = t.instance_with(|s| s.policy.spot_checks_per_week = 3).await;
    let first = liandong::scheduler::run_once(&spot).await.unwrap().unwrap();
    assert_eq!(first.spot_checks, 0, "a person is first only scheduled");
    let scheduled =
        t.raw().strings(&format!("SELECT CAST(next_spot_check_at AS TEXT) FROM persons WHERE id = {person}")).await;
    assert_eq!(scheduled.len(), 1);
    // Make the check due now.
    let due = (spot.clock.now() - Duration::minutes(1)).to_rfc3339();
    t.raw().execute(&format!("UPDATE persons SET next_spot_check_at = '{due}' WHERE id = {person}")).await;
    let second = liandong::scheduler::run_once(&spot).await.unwrap().unwrap();
    assert_eq!(second.spot_checks, 1);
    let me = t.get("/api/v1/me", &token).await;
    assert_eq!(me.body["checkin_requests"].as_array().unwrap().len(), 1, "{}", me.body);
    spot.store.close().await;
}

async fn officers_record_the_sanctions_episodes_point_to(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    upload(t, &token, vec![fix_at("far", t.app.clock.now(), 113.92, 30.92, 20.0)]).await;
    let alert = alerts(t, &officer, "").await[0]["id"].clone();
    let path = format!("/api/v1/persons/{person}/sanctions");
    let today = t.app.today().to_string();
    let sanction =
        json!({"kind": "warning", "alert_id": alert, "decided_on": today, "reason": "未经批准离开武汉，给予警告"});
    let key = [("idempotency-key", "sanction-1")];
    let recorded = crate::harness::call(
        &t.router(),
        axum::http::Method::POST,
        &path,
        Some(&officer),
        Some(sanction.clone()),
        &key,
    )
    .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.body);
    let retried = crate::harness::call(
        &t.router(),
        axum::http::Method::POST,
        &path,
        Some(&officer),
        Some(sanction.clone()),
        &key,
    )
    .await;
    assert_eq!(
        (retried.status, &retried.body["id"]),
        (StatusCode::OK, &recorded.body["id"]),
        "a retry records nothing"
    );
    let mut bad = sanction.clone();
    bad["kind"] = json!("fine");
    assert_eq!(t.post(&path, &officer, bad).await.field(), "kind");
    let other = t.enrol(&officer).await;
    let elsewhere = t.post(&format!("/api/v1/persons/{other}/sanctions"), &officer, sanction.clone()).await;
    assert_eq!((elsewhere.status, elsewhere.field()), (StatusCode::UNPROCESSABLE_ENTITY, "alert_id"));
    let mut future = sanction.clone();
    future["decided_on"] = json!("2099-01-01");
    assert_eq!(t.post(&path, &officer, future).await.field(), "decided_on");
    let procurator = t.user("ja-proc", liandong::auth::Role::Procurator, "420102").await;
    assert_eq!(t.post(&path, &procurator, sanction).await.status, StatusCode::FORBIDDEN);
    let shown = t.get(&format!("/api/v1/persons/{person}"), &procurator).await;
    assert_eq!(shown.body["sanctions"][0]["kind"], "warning", "{}", shown.body);
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind = 'sanction.recorded'").await;
    assert_eq!(kinds.len(), 1);
}

async fn fixes_are_purged_after_the_retention_period_except_evidence(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    let now = t.app.clock.now();
    let fixes =
        (0..5).map(|i| fix_at(&format!("h{i}"), now - Duration::minutes(50 - i), HOME.0, HOME.1, 10.0)).collect();
    upload(t, &token, fixes).await;
    upload(t, &token, vec![fix_at("far", now, 113.92, 30.92, 20.0)]).await;
    assert_eq!(t.count("fixes").await, 6);
    let today = t.app.today().to_string();
    t.post(&format!("/api/v1/persons/{person}/end"), &officer, json!({"on": today, "reason": "completed"})).await;
    assert_eq!(t.advance(300 * 86_400).await["purged_fixes"], 0, "kept for the retention period");
    assert_eq!(t.advance(66 * 86_400).await["purged_fixes"], 5);
    let left = t.raw().strings("SELECT client_id FROM fixes").await;
    assert_eq!(left, ["far"], "the alert's evidence stays");
    let kinds = t.raw().strings("SELECT kind FROM oversight_events ORDER BY seq DESC LIMIT 1").await;
    assert_eq!(kinds, ["fixes.purged"]);
}
