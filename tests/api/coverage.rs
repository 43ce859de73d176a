//! Every event kind reaches the log: each is appended somewhere in the code and documented for
//! the procuratorate's own verifier, and the rarer steps of a case are seen to arrive.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use chrono::Days;
use liandong::oversight::EventKind;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{TestApp, PASSWORD};
use crate::supervision::{fix_at, supervised, upload};

backend_tests!(the_rarer_steps_of_a_case_reach_the_log);

fn sources(dir: &std::path::Path, text: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, text);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("oversight/mod.rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_event_kind_is_appended_somewhere_and_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    sources(&root.join("src"), &mut code);
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    for kind in EventKind::ALL {
        assert!(code.contains(&format!("EventKind::{kind:?}")), "{kind} is declared but never appended");
        let named = |line: &&str| line.split('|').nth(1).is_some_and(|cell| cell.contains(&format!("`{kind}`")));
        assert!(table.iter().any(named), "{kind} is missing from the README's table of kinds");
    }
}

/// Hanchuan, a county-level city of Xiaogan: another place than Xiaonan.
const HANCHUAN: (f64, f64) = (113.835, 30.661);

async fn the_rarer_steps_of_a_case_reach_the_log(t: &TestApp) {
    let (officer, person, phone) = supervised(t).await;
    let procurator = t.user("ja-proc", liandong::auth::Role::Procurator, "420102").await;
    let change = json!({"current_password": PASSWORD, "new_password": "a much longer passphrase"});
    assert_eq!(t.post("/api/v1/auth/password", &procurator, change).await.status, StatusCode::OK);
    t.app.store.disable_user("ja-proc", "cli", t.app.clock.now()).await.unwrap();

    // A check-in asked for and answered by the next fix.
    let asked = t.post(&format!("/api/v1/persons/{person}/checkin-requests"), &officer, json!({})).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    upload(t, &phone, vec![fix_at("home", t.app.clock.now(), 114.30, 30.62, 10.0)]).await;
    // Far away at once, then in a second county of the same absence: new evidence joins.
    t.test_clock_advance(600);
    upload(t, &phone, vec![fix_at("far", t.app.clock.now(), 113.92, 30.92, 20.0)]).await;
    t.test_clock_advance(600);
    let moved = upload(t, &phone, vec![fix_at("farther", t.app.clock.now(), HANCHUAN.0, HANCHUAN.1, 20.0)]).await;
    assert_eq!(moved["state"], "absent", "{moved}");
    let path = format!("/api/v1/persons/{person}/sanctions");
    let sanction = json!({"kind": "admonition", "decided_on": t.app.today(), "reason": "擅自离开武汉，予以训诫"});
    assert_eq!(t.post(&path, &officer, sanction).await.status, StatusCode::CREATED);

    // A trip from today: arrival and return reported.
    let starts = t.app.today();
    let trip = json!({
        "person_id": person, "kind": "trip", "destinations": ["420900"], "starts_on": starts,
        "ends_on": starts + Days::new(2), "reason_category": "family", "reason": "探望住院的母亲",
    });
    let applied = t.post("/api/v1/travel-applications", &officer, trip).await;
    let id = applied.body["id"].clone();
    let decide = format!("/api/v1/travel-applications/{id}/decision");
    let decided = t.post(&decide, &officer, json!({"approve": true, "reason": "同意"})).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    for report in ["arrival", "return"] {
        let path = format!("/api/v1/travel-applications/{id}/{report}");
        let reply = t.call(Method::POST, &path, Some(&phone), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{report}: {}", reply.body);
    }
    let hook = t.post("/api/v1/webhooks", &officer, json!({"url": "https://sms.example.cn/in"})).await;
    t.call(Method::DELETE, &format!("/api/v1/webhooks/{}", hook.body["id"]), Some(&officer), None).await;

    let events = t.app.store.events_after(0, 10_000).await.unwrap();
    let kinds: BTreeSet<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for expected in [
        "user.password_changed",
        "user.disabled",
        "checkin.requested",
        "checkin.answered",
        "alert.opened",
        "alert.evidence_added",
        "sanction.recorded",
        "travel.submitted",
        "travel.decided",
        "travel.arrived",
        "travel.returned",
        "webhook.created",
        "webhook.deleted",
    ] {
        assert!(kinds.contains(expected), "{expected} missing from {kinds:?}");
    }
    let text: String = events.iter().map(|e| e.data.as_str()).collect();
    for coordinate in ["113.92", "30.92", "113.835", "30.661", "114.3", "30.62"] {
        assert!(!text.contains(coordinate), "a coordinate ({coordinate}) in the oversight log");
    }
}
