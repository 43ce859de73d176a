//! The supervision loop seen from outside: fixes in, states and alerts out.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;

backend_tests!(
    moving_through_wuchang_raises_nothing,
    dwelling_in_xiaogan_raises_one_absence_alert_with_evidence,
    one_noisy_fix_just_over_the_edge_raises_nothing,
    a_replayed_backlog_is_neither_stored_nor_judged_twice,
    a_late_backlog_proving_yesterdays_absence_raises_one_retrospective_alert,
    entering_an_exclusion_zone_raises_an_alert,
    officers_acknowledge_resolve_and_suppress_alerts,
    a_zone_drawn_around_a_person_who_does_not_move_is_an_entry,
    concurrent_uploads_of_many_persons_are_judged_person_by_person,
    two_instances_write_the_same_persons_at_once,
);

/// A Jiang'an probation person, registered, with a phone: (officer token, person id, device token).
pub async fn supervised(t: &TestApp) -> (String, i64, String) {
    let (officer, person, device) = supervised_device(t).await;
    let token = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    (officer, person, token)
}

/// The same, answering the phone's id and key (to sign in again after time passed).
pub async fn supervised_device(t: &TestApp) -> (String, i64, Value) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    // Reported in on time: the registration job has nothing to say about this person.
    t.post(&format!("/api/v1/persons/{person}/registration"), &officer, json!({"on": "2026-03-05"})).await;
    let device = t.phone(&officer, person).await;
    (officer, person, device)
}

pub fn fix_at(id: &str, at: DateTime<Utc>, lon: f64, lat: f64, accuracy_m: f64) -> Value {
    json!({"id": id, "at": at.to_rfc3339(), "lon": lon, "lat": lat, "accuracy_m": accuracy_m, "crs": "wgs84"})
}

pub async fn upload(t: &TestApp, token: &str, fixes: Vec<Value>) -> Value {
    let reply = t.post("/api/v1/checkins", token, json!({ "fixes": fixes })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

pub async fn alerts(t: &TestApp, officer: &str, query: &str) -> Vec<Value> {
    let reply = t.get(&format!("/api/v1/alerts?{query}"), officer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["alerts"].as_array().unwrap().clone()
}

/// Jiang'an, Wuchang (across the river) and Xiaogan's Xiaonan district, WGS-84.
const JIANGAN: (f64, f64) = (114.30, 30.62);
const WUCHANG: (f64, f64) = (114.31, 30.55);
const XIAONAN: (f64, f64) = (113.92, 30.92);

fn minutes_ago(t: &TestApp, m: i64) -> DateTime<Utc> {
    t.app.clock.now() - Duration::minutes(m)
}

async fn moving_through_wuchang_raises_nothing(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    let track: Vec<Value> = (0..12)
        .map(|i| {
            let (lon, lat) = if i % 2 == 0 { JIANGAN } else { WUCHANG };
            fix_at(&format!("w{i}"), minutes_ago(t, 60 - 5 * i), lon + 0.001 * i as f64, lat, 10.0)
        })
        .collect();
    let answer = upload(t, &token, track).await;
    assert_eq!((answer["accepted"].as_u64(), answer["state"].as_str()), (Some(12), Some("inside")));
    assert!(alerts(t, &officer, &format!("person_id={person}")).await.is_empty());
    let shown = t.get(&format!("/api/v1/persons/{person}"), &officer).await;
    assert_eq!(shown.body["state"], "inside");
}

async fn dwelling_in_xiaogan_raises_one_absence_alert_with_evidence(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    upload(t, &token, vec![fix_at("h", minutes_ago(t, 90), JIANGAN.0, JIANGAN.1, 10.0)]).await;
    // Two kilometres into Xiaogan: not far enough for one fix to settle it.
    let (lon, lat) = just_outside(t, 2000.0);
    let first = upload(t, &token, vec![fix_at("x1", minutes_ago(t, 20), lon, lat, 20.0)]).await;
    assert_eq!(first["state"], "suspected", "one fix outside is not yet an absence: {first}");
    assert!(alerts(t, &officer, "").await.is_empty());
    let second = upload(t, &token, vec![fix_at("x2", minutes_ago(t, 5), lon - 0.001, lat, 20.0)]).await;
    assert_eq!(second["state"], "absent");
    // More fixes in the same place join the same episode.
    upload(t, &token, vec![fix_at("x3", minutes_ago(t, 1), lon, lat + 0.001, 20.0)]).await;
    let found = alerts(t, &officer, &format!("person_id={person}&kind=unapproved_absence")).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let listed = t.get("/api/v1/persons?state=absent", &officer).await;
    assert_eq!(listed.body["persons"][0]["open_alerts"], 1, "{}", listed.body);
    assert!(listed.body["persons"][0]["last_fix_at"].is_string());
    let alert = &found[0];
    assert_eq!((alert["status"].as_str(), alert["retrospective"].as_bool()), (Some("open"), Some(false)));
    let evidence = alert["evidence"]["fixes"].as_array().unwrap();
    assert_eq!(evidence.len(), 2);
    assert!(evidence[0]["adcode"].as_str().unwrap().starts_with("4209"), "a unit of Xiaogan: {}", evidence[0]);
    assert!(!evidence[0]["place"].as_str().unwrap().is_empty());
    assert!(evidence[0]["distance_m"].as_f64().unwrap() > 1000.0);
    assert!(evidence[0].get("lon").is_none(), "evidence carries no coordinates");
    // Back home ends the episode; the alert stays for the officer to handle.
    let home = upload(t, &token, vec![fix_at("back", t.app.clock.now(), JIANGAN.0, JIANGAN.1, 10.0)]).await;
    assert_eq!(home["state"], "inside");
    let found = alerts(t, &officer, &format!("person_id={person}")).await;
    assert_eq!(found.len(), 1);
    assert!(found[0]["episode_ended_at"].is_string());
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'alert.%' ORDER BY seq").await;
    assert_eq!(kinds, ["alert.opened", "alert.episode_ended"]);
    // Operators see the loop on /metrics (the registry is shared by every test of the process).
    let metrics = t.call(axum::http::Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("fixes_stored_total") && text.contains(r#"alerts_opened_total{kind="unapproved_absence"}"#));
}

/// A point `metres` beyond the edge of Wuhan on the way to Xiaogan, found with the engine.
fn just_outside(t: &TestApp, metres: f64) -> (f64, f64) {
    let area = t.app.geofences.allowed_area("420102").unwrap();
    let (mut inside, mut outside) = (JIANGAN, XIAONAN);
    for _ in 0..60 {
        let mid = ((inside.0 + outside.0) / 2.0, (inside.1 + outside.1) / 2.0);
        let d = area.judge(&t.app.geofences, mid.0, mid.1, 0.0).unwrap().distance_m;
        if d < metres {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    outside
}

async fn one_noisy_fix_just_over_the_edge_raises_nothing(t: &TestApp) {
    let (officer, _, token) = supervised(t).await;
    let (lon, lat) = just_outside(t, 150.0);
    let noisy = upload(t, &token, vec![fix_at("n1", minutes_ago(t, 30), lon, lat, 300.0)]).await;
    assert_eq!((noisy["placement"].as_str(), noisy["state"].as_str()), (Some("uncertain"), Some("uncertain")));
    // Even a second noisy fix well apart in time is no evidence.
    let again = upload(t, &token, vec![fix_at("n2", minutes_ago(t, 5), lon, lat, 300.0)]).await;
    assert_eq!(again["state"], "uncertain");
    assert!(alerts(t, &officer, "").await.is_empty());
}

/// Home, then three fixes in Xiaogan over 30 minutes, then home again: one absence.
fn backlog(t: &TestApp, hours_ago: i64) -> Vec<Value> {
    let start = t.app.clock.now() - Duration::hours(hours_ago);
    let mut fixes = vec![fix_at("b0", start, JIANGAN.0, JIANGAN.1, 10.0)];
    for i in 1..=3 {
        fixes.push(fix_at(&format!("b{i}"), start + Duration::minutes(15 * i), XIAONAN.0, XIAONAN.1, 25.0));
    }
    fixes.push(fix_at("b4", start + Duration::minutes(75), JIANGAN.0, JIANGAN.1, 10.0));
    fixes
}

async fn a_replayed_backlog_is_neither_stored_nor_judged_twice(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    let first = upload(t, &token, backlog(t, 5)).await;
    assert_eq!((first["accepted"].as_u64(), first["state"].as_str()), (Some(5), Some("inside")));
    let found = alerts(t, &officer, &format!("person_id={person}")).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["retrospective"], true, "learnt hours after the fact");
    assert!(found[0]["episode_ended_at"].is_string(), "the backlog shows the return too");
    let events = t.count("oversight_events").await;
    for _ in 0..2 {
        let replay = upload(t, &token, backlog(t, 5)).await;
        assert_eq!((replay["accepted"].as_u64(), replay["duplicates"].as_u64()), (Some(0), Some(5)));
    }
    assert_eq!(t.count("fixes").await, 5);
    assert_eq!(alerts(t, &officer, "").await.len(), 1);
    assert_eq!(t.count("oversight_events").await, events, "a replay changes nothing");
}

async fn a_late_backlog_proving_yesterdays_absence_raises_one_retrospective_alert(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    // The phone reports live from home, then uploads what it buffered yesterday.
    upload(t, &token, vec![fix_at("now", minutes_ago(t, 2), JIANGAN.0, JIANGAN.1, 10.0)]).await;
    let late = upload(t, &token, backlog(t, 26)).await;
    assert_eq!((late["accepted"].as_u64(), late["state"].as_str()), (Some(5), Some("inside")));
    let found = alerts(t, &officer, &format!("person_id={person}")).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let alert = &found[0];
    assert_eq!((alert["kind"].as_str(), alert["retrospective"].as_bool()), (Some("unapproved_absence"), Some(true)));
    let opened: DateTime<Utc> = alert["opened_at"].as_str().unwrap().parse().unwrap();
    let ended: DateTime<Utc> = alert["episode_ended_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ended - opened, Duration::minutes(60), "from the first fix away to the one back home");
    // Fixes from inside the same absence, arriving later still, are covered by that alert.
    let start = t.app.clock.now() - Duration::hours(26);
    let inner = vec![
        fix_at("i1", start + Duration::minutes(20), XIAONAN.0, XIAONAN.1, 25.0),
        fix_at("i2", start + Duration::minutes(40), XIAONAN.0, XIAONAN.1, 25.0),
    ];
    upload(t, &token, inner).await;
    assert_eq!(alerts(t, &officer, "").await.len(), 1);
    // The same backlog from a second upload attempt (new ids) is covered by that alert.
    let mut again = backlog(t, 26);
    for (i, f) in again.iter_mut().enumerate() {
        f["id"] = json!(format!("again{i}"));
    }
    upload(t, &token, again).await;
    assert_eq!(alerts(t, &officer, "").await.len(), 1);
}

async fn entering_an_exclusion_zone_raises_an_alert(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    let zone = json!({
        "name": "被害人住所", "basis": "禁止令第一项",
        "geometry": {"type": "Point", "coordinates": [JIANGAN.0 + 0.02, JIANGAN.1]}, "radius_m": 300.0,
        "crs": "wgs84",
    });
    let created = t.post(&format!("/api/v1/persons/{person}/zones"), &officer, zone).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // Near the zone but outside it by more than the accuracy: nothing.
    upload(t, &token, vec![fix_at("near", minutes_ago(t, 10), JIANGAN.0 + 0.02, JIANGAN.1 + 0.006, 20.0)]).await;
    assert!(alerts(t, &officer, "").await.is_empty());
    upload(t, &token, vec![fix_at("in", minutes_ago(t, 5), JIANGAN.0 + 0.02, JIANGAN.1 + 0.0005, 20.0)]).await;
    let found = alerts(t, &officer, "kind=exclusion_zone_entry").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["evidence"]["zones"], json!([created.body["id"]]));
    let due: DateTime<Utc> = found[0]["ack_due_at"].as_str().unwrap().parse().unwrap();
    let raised: DateTime<Utc> = found[0]["raised_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - raised, Duration::minutes(30), "an urgent kind");
}

async fn officers_acknowledge_resolve_and_suppress_alerts(t: &TestApp) {
    let (officer, _, token) = supervised(t).await;
    upload(t, &token, vec![fix_at("far", minutes_ago(t, 1), XIAONAN.0, XIAONAN.1, 20.0)]).await;
    let id = alerts(t, &officer, "status=open").await[0]["id"].as_i64().unwrap();
    let path = |what: &str| format!("/api/v1/alerts/{id}/{what}");
    // Out of scope is not found; a procurator may read but not handle.
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", liandong::auth::Role::CountyOfficer, "420106").await;
    assert!(alerts(t, &wuchang, "").await.is_empty());
    assert_eq!(t.post(&path("acknowledge"), &wuchang, json!({})).await.status, StatusCode::NOT_FOUND);
    let procurator = t.user("ja-proc", liandong::auth::Role::Procurator, "420102").await;
    assert_eq!(alerts(t, &procurator, "").await.len(), 1);
    assert_eq!(t.post(&path("acknowledge"), &procurator, json!({})).await.status, StatusCode::FORBIDDEN);

    let acked = t.post(&path("acknowledge"), &officer, json!({"note": "电话联系中"})).await;
    assert_eq!((acked.status, acked.body["status"].as_str()), (StatusCode::OK, Some("acknowledged")));
    assert_eq!(t.post(&path("acknowledge"), &officer, json!({})).await.body["status"], "acknowledged");

    let bad = t.post(&path("suppress"), &officer, json!({"reason": "住院", "until": "2020-01-01T00:00:00Z"})).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("until")));
    let until = (t.app.clock.now() + Duration::days(3)).to_rfc3339();
    let suppressed = t.post(&path("suppress"), &officer, json!({"reason": "住院治疗", "until": until})).await;
    assert_eq!(suppressed.body["suppress_reason"], "住院治疗", "{}", suppressed.body);

    let resolution = json!({"disposition": "warning", "note": "未经批准外出，给予警告"});
    let resolved = t.post(&path("resolve"), &officer, resolution.clone()).await;
    assert_eq!(
        (resolved.body["status"].as_str(), resolved.body["disposition"].as_str()),
        (Some("resolved"), Some("warning"))
    );
    assert_eq!(t.post(&path("resolve"), &officer, resolution).await.status, StatusCode::OK, "a retry");
    let other = t.post(&path("resolve"), &officer, json!({"disposition": "false_alarm", "note": "x"})).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(t.post(&path("acknowledge"), &officer, json!({})).await.status, StatusCode::CONFLICT);
    let unknown = t.post(&path("resolve"), &officer, json!({"disposition": "forgiven", "note": "x"})).await;
    assert_eq!(
        (unknown.status, unknown.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("disposition"))
    );
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'alert.%' ORDER BY seq").await;
    assert_eq!(kinds, ["alert.opened", "alert.acknowledged", "alert.suppressed", "alert.resolved"]);
    // Still away: the resolved alert stays closed for the rest of its episode.
    upload(t, &token, vec![fix_at("far2", t.app.clock.now(), XIAONAN.0 + 0.02, XIAONAN.1, 20.0)]).await;
    assert_eq!(alerts(t, &officer, "").await.len(), 1);
}

async fn a_zone_drawn_around_a_person_who_does_not_move_is_an_entry(t: &TestApp) {
    let (officer, person, token) = supervised(t).await;
    upload(t, &token, vec![fix_at("still", minutes_ago(t, 5), JIANGAN.0, JIANGAN.1, 15.0)]).await;
    let zone = |from: Option<DateTime<Utc>>| {
        json!({
            "name": "某小学周边", "basis": "禁止令第二项", "crs": "wgs84", "radius_m": 200.0,
            "geometry": {"type": "Point", "coordinates": [JIANGAN.0, JIANGAN.1]}, "valid_from": from,
        })
    };
    // One that starts tomorrow changes nothing today.
    let tomorrow = t.app.clock.now() + Duration::days(1);
    t.post(&format!("/api/v1/persons/{person}/zones"), &officer, zone(Some(tomorrow))).await;
    assert!(alerts(t, &officer, "").await.is_empty());
    let created = t.post(&format!("/api/v1/persons/{person}/zones"), &officer, zone(None)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let found = alerts(t, &officer, "kind=exclusion_zone_entry").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["evidence"]["zones"], json!([created.body["id"]]));
    assert_eq!(found[0]["evidence"]["fixes"][0]["id"], "still");
}

async fn concurrent_uploads_of_many_persons_are_judged_person_by_person(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let mut phones = Vec::new();
    for _ in 0..12 {
        let person = t.enrol(&officer).await;
        let device = t.phone(&officer, person).await;
        phones.push((person, t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned()));
    }
    // Every other person is away; each upload is sent twice at once (a client's eager retry).
    let uploads = phones.iter().enumerate().flat_map(|(i, (_, token))| {
        let (lon, lat) = if i % 2 == 0 { XIAONAN } else { JIANGAN };
        let fixes =
            vec![fix_at("a", minutes_ago(t, 20), lon, lat, 20.0), fix_at("b", minutes_ago(t, 5), lon, lat, 20.0)];
        let body = json!({ "fixes": fixes });
        [(token.clone(), body.clone()), (token.clone(), body)]
    });
    let replies = send_all(t, uploads.collect()).await;
    for pair in replies.chunks(2) {
        let accepted: u64 = pair.iter().map(|r| r["accepted"].as_u64().unwrap()).sum();
        let duplicates: u64 = pair.iter().map(|r| r["duplicates"].as_u64().unwrap()).sum();
        assert_eq!((accepted, duplicates), (2, 2), "{pair:?}");
    }
    for (i, (person, _)) in phones.iter().enumerate() {
        let shown = t.get(&format!("/api/v1/persons/{person}"), &officer).await;
        let expected = if i % 2 == 0 { "absent" } else { "inside" };
        assert_eq!(shown.body["state"], expected, "person {i}");
        let found = alerts(t, &officer, &format!("person_id={person}&kind=unapproved_absence")).await;
        assert_eq!(found.len(), usize::from(i % 2 == 0), "person {i}");
    }
    assert_eq!(t.count("fixes").await, 24);
}

/// Sends all uploads at once, so that the writer stores them in shared transactions.
async fn send_all(t: &TestApp, uploads: Vec<(String, Value)>) -> Vec<Value> {
    let tasks: Vec<_> = uploads
        .into_iter()
        .map(|(token, body)| {
            let router = t.router();
            tokio::spawn(async move {
                let reply = crate::harness::call(
                    &router,
                    axum::http::Method::POST,
                    "/api/v1/checkins",
                    Some(&token),
                    Some(body),
                    &[],
                )
                .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                reply.body
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// Phones through one instance, tags through another, the scheduler and officers at the same
/// time, all on the same persons: every request is answered, none fails on a lock.
async fn two_instances_write_the_same_persons_at_once(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let (other_app, other) = t.second_instance().await;
    let mut devices = Vec::new();
    for _ in 0..4 {
        let person = t.enrol(&officer).await;
        let phone = t.phone(&officer, person).await;
        let tag = t.post(&format!("/api/v1/persons/{person}/devices"), &officer, json!({"kind": "tag"})).await.body;
        let token = |d: &Value| {
            let d = d.clone();
            async move { t.device_token(&d).await.body["access_token"].as_str().unwrap().to_owned() }
        };
        devices.push((token(&phone).await, token(&tag).await));
    }
    let mut tasks = Vec::new();
    for round in 0..3i64 {
        for (i, (phone, tag)) in devices.iter().enumerate() {
            let (lon, lat) = if (i as i64 + round) % 2 == 0 { XIAONAN } else { JIANGAN };
            let at = minutes_ago(t, 30 - 10 * round);
            for (router, token, id) in [(t.router(), phone, "p"), (other.clone(), tag, "t")] {
                let body = json!({"fixes": [fix_at(&format!("{id}{round}"), at, lon, lat, 20.0)]});
                let token = token.clone();
                tasks.push(tokio::spawn(async move {
                    crate::harness::call(
                        &router,
                        axum::http::Method::POST,
                        "/api/v1/checkins",
                        Some(&token),
                        Some(body),
                        &[],
                    )
                    .await
                }));
            }
        }
        let app = other_app.clone();
        tasks.push(tokio::spawn(async move {
            liandong::scheduler::run_once(&app).await.unwrap();
            crate::harness::Reply { status: StatusCode::OK, headers: Default::default(), body: Value::Null }
        }));
        for alert in alerts(t, &officer, "status=open").await {
            let path = format!("/api/v1/alerts/{}/acknowledge", alert["id"]);
            let (router, token) = (t.router(), officer.clone());
            tasks.push(tokio::spawn(async move {
                crate::harness::call(&router, axum::http::Method::POST, &path, Some(&token), Some(json!({})), &[]).await
            }));
        }
    }
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    assert_eq!(t.count("fixes").await, 24);
    other_app.store.close().await;
}
