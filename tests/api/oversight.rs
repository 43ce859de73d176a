//! The oversight log: every change recorded in its own transaction, gapless, chained, verified.

use axum::http::{Method, StatusCode};
use liandong::oversight::{verify, Event};
use serde_json::json;

use crate::backend_tests;
use crate::harness::{call, person_body, Raw, TestApp};

backend_tests!(
    each_change_appends_one_event_without_personal_details,
    concurrent_writers_on_two_instances_get_a_gapless_sequence,
    an_edited_event_is_refused_and_if_forced_detected,
);

async fn all_events(t: &TestApp) -> Vec<Event> {
    t.app.store.events_after(0, 100_000).await.unwrap()
}

async fn each_change_appends_one_event_without_personal_details(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    t.post(&format!("/api/v1/persons/{person}/registration"), &officer, json!({"on": "2026-03-05"})).await;
    let device = t.phone(&officer, person).await;
    let path = format!("/api/v1/persons/{person}/devices/{}", device["device_id"]);
    t.call(Method::DELETE, &path, Some(&officer), None).await;

    let events = all_events(t).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["office.created", "user.created", "person.enrolled", "person.registered", "device.enrolled", "device.revoked"]
    );
    assert!(events.iter().all(|e| e.county == "420102"));
    assert_eq!(events[2].person_id, Some(person));
    assert!(events[2].actor.starts_with("user:"));
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("张三"), "no names of supervised persons in the log");
    assert!(!text.contains("ldk_"), "no device keys in the log");
    let report = verify(&events);
    assert!(report.ok(), "{:?}", report.first_broken);
    assert_eq!(report.heads["420102"], events.last().unwrap().hash);
}

async fn concurrent_writers_on_two_instances_get_a_gapless_sequence(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", liandong::auth::Role::CountyOfficer, "420106").await;
    let (_, second) = t.second_instance().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (router, token, office, county) = match i % 2 {
            0 => (t.router(), officer.clone(), "ja", "420102"),
            _ => (second.clone(), wuchang.clone(), "wc", "420106"),
        };
        tasks.push(tokio::spawn(async move {
            let reply =
                call(&router, Method::POST, "/api/v1/persons", Some(&token), Some(person_body(office, county)), &[])
                    .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = all_events(t).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "gapless, in order");
    assert_eq!(events.iter().filter(|e| e.kind == "person.enrolled").count(), 24);
    let report = verify(&events);
    assert!(report.ok(), "{:?}", report.first_broken);
    assert_eq!(report.heads.len(), 2, "one chain per county");
}

async fn an_edited_event_is_refused_and_if_forced_detected(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    for _ in 0..3 {
        t.enrol(&officer).await;
    }
    let edit = "UPDATE oversight_events SET data = '{\"category\":\"control\"}' WHERE seq = 4";
    match t.raw() {
        Raw::Sqlite(pool) => {
            assert!(sqlx::query(edit).execute(pool).await.is_err(), "append-only");
            sqlx::query("DROP TRIGGER oversight_events_no_update").execute(pool).await.unwrap();
            sqlx::query(edit).execute(pool).await.unwrap();
        }
        Raw::Postgres(pool) => {
            assert!(sqlx::query(edit).execute(pool).await.is_err(), "append-only");
            sqlx::query("ALTER TABLE oversight_events DISABLE TRIGGER oversight_events_append_only")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(edit).execute(pool).await.unwrap();
        }
    }
    let broken = verify(&all_events(t).await).first_broken.expect("the edit is detected");
    assert_eq!((broken.seq, broken.county.as_str()), (4, "420102"));
    assert!(broken.reason.contains("altered"), "{}", broken.reason);
}
