//! The oversight log: every change recorded in its own transaction, gapless, chained, verified,
//! and read by procurators page by page, each in its jurisdiction.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use liandong::auth::Role;
use liandong::oversight::{verify, Event};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::{call, person_body, Raw, TestApp};

backend_tests!(
    each_change_appends_one_event_without_personal_details,
    concurrent_writers_on_two_instances_get_a_gapless_sequence,
    an_edited_event_is_refused_and_if_forced_detected,
    each_procurator_pages_its_own_jurisdiction,
    bad_paging_is_refused,
);

/// Offices and procurators of Jiang'an and Wuchang, and of Wuhan: (Jiang'an officer, Wuchang
/// officer, Jiang'an, Wuchang and Wuhan procurators).
pub async fn two_counties(t: &TestApp) -> (String, String, String, String, String) {
    let jiangan = t.jiangan_officer().await;
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", Role::CountyOfficer, "420106").await;
    let ja_proc = t.user("ja-proc", Role::Procurator, "420102").await;
    let wc_proc = t.user("wc-proc", Role::Procurator, "420106").await;
    let wh_proc = t.user("wh-proc", Role::Procurator, "420100").await;
    (jiangan, wuchang, ja_proc, wc_proc, wh_proc)
}

/// Every event a procurator may read, page by page of `limit`.
pub async fn read_all(router: &axum::Router, token: &str, limit: usize) -> (Vec<Value>, i64) {
    let (mut events, mut after) = (Vec::new(), 0);
    loop {
        let uri = format!("/api/v1/oversight/events?after={after}&limit={limit}");
        let page = call(router, Method::GET, &uri, Some(token), None, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let got = page.body["events"].as_array().unwrap().clone();
        let next = page.body["next"].as_i64().unwrap();
        assert!(next >= after, "the cursor never goes back");
        let done = got.len() < limit;
        events.extend(got);
        after = next;
        if done {
            assert_eq!(next, page.body["head"].as_i64().unwrap(), "a short page ends at the head");
            return (events, after);
        }
    }
}

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
    let wh_proc = t.user("wh-proc", Role::Procurator, "420100").await;
    let (_, second) = t.second_instance().await;
    // A procurator reads page after page while the writers run: a page bounded by the head it
    // read first never skips an event that commits later.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (router, token, stop) = (t.router(), wh_proc.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut seen, mut after) = (Vec::new(), 0);
            loop {
                let finished = stop.load(std::sync::atomic::Ordering::SeqCst);
                let uri = format!("/api/v1/oversight/events?after={after}&limit=7");
                let page = call(&router, Method::GET, &uri, Some(&token), None, &[]).await;
                let events = page.body["events"].as_array().unwrap().clone();
                seen.extend(events.iter().map(|e| e["seq"].as_i64().unwrap()));
                after = page.body["next"].as_i64().unwrap();
                if finished && events.len() < 7 {
                    return seen;
                }
            }
        })
    };
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
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let events = all_events(t).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "gapless, in order");
    assert_eq!(events.iter().filter(|e| e.kind == "person.enrolled").count(), 24);
    let report = verify(&events);
    assert!(report.ok(), "{:?}", report.first_broken);
    assert_eq!(report.heads.len(), 3, "one chain per county, and Wuhan's for its procurator");
    let wuhan: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seen, wuhan, "the reader saw every event of Wuhan once, in order, none skipped");
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

    // Procurators see it too: Jiang'an's names the link; Wuchang's own chain is intact.
    let ja_proc = t.user("ja-proc", Role::Procurator, "420102").await;
    let wc_proc = t.user("wc-proc", Role::Procurator, "420106").await;
    let report = t.get("/api/v1/oversight/verify", &ja_proc).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!((report.body["intact"].as_bool(), report.body["first_broken"]["seq"].as_i64()), (Some(false), Some(4)));
    let report = t.get("/api/v1/oversight/verify?county=420106", &wc_proc).await;
    assert_eq!(report.body["intact"], true, "{}", report.body);
    let outside = t.get("/api/v1/oversight/verify?county=420102", &wc_proc).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.body);
    assert_eq!(outside.field(), "county");

    // A removed event is missed by every jurisdiction: the log is counted, not only chained.
    match t.raw() {
        Raw::Sqlite(pool) => {
            sqlx::query("DROP TRIGGER oversight_events_no_delete").execute(pool).await.unwrap();
            sqlx::query("DELETE FROM oversight_events WHERE seq = 2").execute(pool).await.unwrap();
        }
        Raw::Postgres(pool) => {
            sqlx::query("DELETE FROM oversight_events WHERE seq = 2").execute(pool).await.unwrap();
        }
    }
    let report = t.get("/api/v1/oversight/verify", &wc_proc).await;
    assert_eq!((report.body["intact"].as_bool(), report.body["first_broken"]["seq"].as_i64()), (Some(false), Some(2)));
    assert!(report.body["first_broken"]["reason"].as_str().unwrap().contains("missing"), "{}", report.body);
}

async fn each_procurator_pages_its_own_jurisdiction(t: &TestApp) {
    let (jiangan, wuchang, ja_proc, wc_proc, wh_proc) = two_counties(t).await;
    for _ in 0..3 {
        t.enrol(&jiangan).await;
        assert_eq!(t.post("/api/v1/persons", &wuchang, person_body("wc", "420106")).await.status, StatusCode::CREATED);
    }
    let counties = |events: &[Value]| -> BTreeSet<String> {
        events.iter().map(|e| e["county"].as_str().unwrap().to_owned()).collect()
    };
    let (ja, ja_next) = read_all(&t.router(), &ja_proc, 2).await;
    assert_eq!(counties(&ja), BTreeSet::from(["420102".to_owned()]), "Jiang'an sees Jiang'an only");
    assert_eq!(ja.iter().filter(|e| e["kind"] == "person.enrolled").count(), 3);
    let (wc, _) = read_all(&t.router(), &wc_proc, 1000).await;
    assert_eq!(counties(&wc), BTreeSet::from(["420106".to_owned()]), "Wuchang sees no Jiang'an event");
    let (wh, _) = read_all(&t.router(), &wh_proc, 3).await;
    assert_eq!(wh.len(), t.app.store.log_head().await.unwrap() as usize, "Wuhan sees its whole city");
    let seqs: Vec<i64> = wh.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in seq order");
    // The cursor of the last page passes over the other county's events: nothing new after it.
    let page = t.get(&format!("/api/v1/oversight/events?after={ja_next}"), &ja_proc).await;
    assert_eq!(page.body["events"], json!([]));
    let text = serde_json::to_string(&wh).unwrap();
    assert!(!text.contains("张三") && !text.contains("lat"), "no names or coordinates in events");
    // A verifier of the procuratorate's own, from the page alone and the published encoding.
    for e in &wh {
        let person = e["person_id"].as_i64().map(|p| p.to_string()).unwrap_or_default();
        let mut text = String::new();
        for field in [&e["prev_hash"], &e["seq"], &e["at"], &e["county"], &e["kind"]] {
            text.push_str(&field.as_str().map(str::to_owned).unwrap_or_else(|| field.to_string()));
            text.push('\n');
        }
        for field in [person.as_str(), e["actor"].as_str().unwrap(), e["data"].as_str().unwrap()] {
            text.push_str(field);
            text.push('\n');
        }
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        assert_eq!(e["hash"].as_str().unwrap(), hash, "event {} rehashed from the page", e["seq"]);
    }

    let officer = t.get("/api/v1/oversight/events", &jiangan).await;
    assert_eq!(officer.status, StatusCode::FORBIDDEN, "the feed is the procuratorate's");
    assert!(officer.is_problem());
}

async fn bad_paging_is_refused(t: &TestApp) {
    let (jiangan, _, ja_proc, _, _) = two_counties(t).await;
    t.enrol(&jiangan).await;
    let head = t.app.store.log_head().await.unwrap();
    for (query, field, status) in [
        ("after=-1", "after", StatusCode::BAD_REQUEST),
        (&format!("after={}", head + 1), "after", StatusCode::UNPROCESSABLE_ENTITY),
        ("after=abc", "after", StatusCode::BAD_REQUEST),
        ("limit=0", "limit", StatusCode::BAD_REQUEST),
        ("limit=1001", "limit", StatusCode::BAD_REQUEST),
        ("limits=5", "limits", StatusCode::BAD_REQUEST),
    ] {
        let reply = t.get(&format!("/api/v1/oversight/events?{query}"), &ja_proc).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        assert!(reply.is_problem(), "{query}");
        assert_eq!(reply.field(), field, "{query}: {}", reply.body);
    }
    assert_eq!(t.get(&format!("/api/v1/oversight/events?after={head}"), &ja_proc).await.status, StatusCode::OK);
}
