//! Devices: enrolment, the key exchange, binding to one person, revocation.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::{call, TestApp};

backend_tests!(
    a_device_key_becomes_a_token_for_its_person_only,
    a_revoked_device_stops_working_everywhere,
    a_person_has_one_active_device_of_each_kind,
    concurrent_enrolments_leave_one_active_phone,
);

async fn concurrent_enrolments_leave_one_active_phone(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let (_, second) = t.second_instance().await;
    let path = format!("/api/v1/persons/{person}/devices");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let router = if i % 2 == 0 { t.router() } else { second.clone() };
            let (path, officer) = (path.clone(), officer.clone());
            tokio::spawn(async move {
                call(&router, Method::POST, &path, Some(&officer), Some(json!({"kind": "phone"})), &[]).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(t.count("devices").await, 1);
}

async fn exchange(t: &TestApp, device_id: &Value, key: &Value) -> crate::harness::Reply {
    t.device_token(&json!({"device_id": device_id, "device_key": key})).await
}

async fn a_device_key_becomes_a_token_for_its_person_only(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let first = t.enrol(&officer).await;
    let second = t.enrol(&officer).await;
    let device = t.post(&format!("/api/v1/persons/{second}/devices"), &officer, json!({"kind": "phone"})).await;
    assert_eq!(device.status, StatusCode::CREATED, "{}", device.body);
    assert!(device.body["device_key"].as_str().unwrap().starts_with("ldk_"));

    let token = exchange(t, &device.body["device_id"], &device.body["device_key"]).await;
    assert_eq!(token.status, StatusCode::OK);
    assert_eq!(token.body["person_id"], second);
    let me = t.get("/api/v1/me", token.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!((me.body["person_id"].as_i64(), me.body["device_kind"].as_str()), (Some(second), Some("phone")));
    assert_eq!(me.body["registration"]["due_on"], "2026-03-11");
    assert_ne!(me.body["person_id"], first);

    let wrong_key = exchange(t, &device.body["device_id"], &json!("ldk_0000")).await;
    assert_eq!(wrong_key.status, StatusCode::UNAUTHORIZED);
    let unknown = exchange(t, &json!(424242), &device.body["device_key"]).await;
    assert_eq!((unknown.status, &unknown.body["detail"]), (StatusCode::UNAUTHORIZED, &wrong_key.body["detail"]));
    let malformed = exchange(t, &json!("one"), &device.body["device_key"]).await;
    assert_eq!((malformed.status, malformed.field()), (StatusCode::UNPROCESSABLE_ENTITY, "device_id"));

    // The key is shown once: the device list never repeats it.
    let listed = t.get(&format!("/api/v1/persons/{second}/devices"), &officer).await;
    assert_eq!(listed.body["devices"].as_array().unwrap().len(), 1);
    assert!(!listed.body.to_string().contains("ldk_"));
}

async fn a_revoked_device_stops_working_everywhere(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let device = t.phone(&officer, person).await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let (_, other_instance) = t.second_instance().await;
    let me_elsewhere = call(&other_instance, Method::GET, "/api/v1/me", Some(&token), None, &[]).await;
    assert_eq!(me_elsewhere.status, StatusCode::OK, "the other instance caches the device as active");

    let path = format!("/api/v1/persons/{person}/devices/{}", device["device_id"]);
    let revoked = t.call(Method::DELETE, &path, Some(&officer), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    assert_eq!(t.get("/api/v1/me", &token).await.status, StatusCode::UNAUTHORIZED, "at once where revoked");
    assert_eq!(t.device_token(&device).await.status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let me_elsewhere = call(&other_instance, Method::GET, "/api/v1/me", Some(&token), None, &[]).await;
    assert_eq!(me_elsewhere.status, StatusCode::UNAUTHORIZED, "elsewhere within the cache lifetime");

    let events = t.count("oversight_events").await;
    assert_eq!(t.call(Method::DELETE, &path, Some(&officer), None).await.status, StatusCode::OK);
    assert_eq!(t.count("oversight_events").await, events, "revoking twice records once");
    let elsewhere = format!("/api/v1/persons/{person}/devices/999");
    assert_eq!(t.call(Method::DELETE, &elsewhere, Some(&officer), None).await.status, StatusCode::NOT_FOUND);
    let bad = format!("/api/v1/persons/{person}/devices/abc");
    let bad = t.call(Method::DELETE, &bad, Some(&officer), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.is_problem());
}

async fn a_person_has_one_active_device_of_each_kind(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let path = format!("/api/v1/persons/{person}/devices");
    let phone = t.post(&path, &officer, json!({"kind": "phone"})).await;
    assert_eq!(t.post(&path, &officer, json!({"kind": "tag"})).await.status, StatusCode::CREATED);
    assert_eq!(t.post(&path, &officer, json!({"kind": "phone"})).await.status, StatusCode::CONFLICT);
    let bad_kind = t.post(&path, &officer, json!({"kind": "pager"})).await;
    assert_eq!((bad_kind.status, bad_kind.field()), (StatusCode::UNPROCESSABLE_ENTITY, "kind"));
    t.call(Method::DELETE, &format!("{path}/{}", phone.body["device_id"]), Some(&officer), None).await;
    assert_eq!(t.post(&path, &officer, json!({"kind": "phone"})).await.status, StatusCode::CREATED);
    assert_eq!(t.count("devices").await, 3);
}
