//! Procuratorial suggestions and correction notices: issued, answered in writing, overdue.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;
use crate::oversight::two_counties;

backend_tests!(
    an_opinion_is_answered_in_writing_and_an_unanswered_one_falls_overdue,
    wrong_authors_and_wrong_agencies_are_refused_and_nothing_is_written,
);

const OPINIONS: &str = "/api/v1/oversight/opinions";

fn opinion(t: &TestApp, kind: &str, subject: &str, id: i64, due_in_days: i64) -> Value {
    json!({
        "kind": kind, "subject": subject, "subject_id": id, "text": "未按规定及时给予警告，请依法纠正",
        "reply_due": (t.app.clock.now() + Duration::days(due_in_days)).to_rfc3339(),
    })
}

async fn listed(t: &TestApp, token: &str, status: &str) -> Vec<i64> {
    let reply = t.get(&format!("{OPINIONS}?status={status}"), token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["opinions"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
}

async fn kinds(t: &TestApp) -> Vec<String> {
    t.app.store.events_after(0, 10_000).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn an_opinion_is_answered_in_writing_and_an_unanswered_one_falls_overdue(t: &TestApp) {
    let (county, _, procurator, _, _) = two_counties(t).await;
    let person = t.enrol(&county).await;
    let applied =
        t.post("/api/v1/travel-applications", &county, crate::travel::trip(t, Some(person), 7, 10, &["420900"])).await;
    let application = applied.body["id"].as_i64().unwrap();

    let first = t.post(OPINIONS, &procurator, opinion(t, "correction", "person", person, 2)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!((first.body["status"].as_str(), first.body["county"].as_str()), (Some("open"), Some("420102")));
    let second = t.post(OPINIONS, &procurator, opinion(t, "suggestion", "application", application, 2)).await;
    assert_eq!(second.body["person_id"], person, "an application's opinion is about its person");
    let (first, second) = (first.body["id"].as_i64().unwrap(), second.body["id"].as_i64().unwrap());
    for side in [&county, &procurator] {
        assert_eq!(listed(t, side, "open").await, [first, second], "both sides see what awaits a reply");
    }
    let summary = t.get("/api/v1/oversight/summary", &procurator).await;
    assert_eq!(
        (summary.body["opinions_unanswered"].as_i64(), summary.body["opinions_overdue"].as_i64()),
        (Some(2), Some(0))
    );

    // The agency answers the correction notice in writing.
    let reply = json!({"outcome": "adopted", "text": "已于次日给予警告，并加强电话核查"});
    let answered = t.post(&format!("{OPINIONS}/{first}/reply"), &county, reply.clone()).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!((answered.body["status"].as_str(), answered.body["late"].as_bool()), (Some("answered"), Some(false)));
    let again = t.post(&format!("{OPINIONS}/{first}/reply"), &county, reply).await;
    assert_eq!(again.status, StatusCode::OK, "the same reply retried is answered, not stored twice");

    // The suggestion goes unanswered past its deadline: one event, whatever the scheduler's runs.
    assert_eq!(t.advance(3 * 86_400).await["overdue_opinions"], 1);
    assert_eq!(t.advance(3600).await["overdue_opinions"], 0);
    let county = t.jiangan_token().await;
    let procurator =
        t.login("ja-proc", crate::harness::PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(listed(t, &procurator, "overdue").await, [second]);
    assert_eq!(listed(t, &county, "answered").await, [first]);
    let summary = t.get("/api/v1/oversight/summary", &procurator).await;
    assert_eq!(summary.body["opinions_overdue"], 1, "{}", summary.body);

    // A late reply is still taken, and marked late; not adopting needs reasons like any reply.
    let late = json!({"outcome": "not_adopted", "text": "该申请经审查符合规定，理由如下：……"});
    let answered = t.post(&format!("{OPINIONS}/{second}/reply"), &county, late).await;
    assert_eq!((answered.body["outcome"].as_str(), answered.body["late"].as_bool()), (Some("not_adopted"), Some(true)));
    let kinds = kinds(t).await;
    let trail: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| k.starts_with("opinion.")).collect();
    assert_eq!(
        trail,
        ["opinion.issued", "opinion.issued", "opinion.replied", "opinion.reply_overdue", "opinion.replied"],
        "the whole paper trail is in the log, once each"
    );
}

async fn wrong_authors_and_wrong_agencies_are_refused_and_nothing_is_written(t: &TestApp) {
    let (county, wuchang, procurator, wc_procurator, _) = two_counties(t).await;
    let office = t.user("ja-office", liandong::auth::Role::OfficeOfficer, "ja").await;
    let person = t.enrol(&county).await;
    let before = (t.count("opinions").await, t.app.store.log_head().await.unwrap());
    for (token, body, status, field) in [
        (&county, opinion(t, "correction", "person", person, 2), StatusCode::FORBIDDEN, ""),
        (&wc_procurator, opinion(t, "correction", "person", person, 2), StatusCode::NOT_FOUND, ""),
        (&procurator, opinion(t, "correction", "alert", 999, 2), StatusCode::NOT_FOUND, ""),
        (&procurator, opinion(t, "correction", "person", person, -1), StatusCode::UNPROCESSABLE_ENTITY, "reply_due"),
        (&procurator, opinion(t, "correction", "person", person, 93), StatusCode::UNPROCESSABLE_ENTITY, "reply_due"),
        (&procurator, opinion(t, "warning", "person", person, 2), StatusCode::UNPROCESSABLE_ENTITY, "kind"),
        (
            &procurator,
            json!({"kind": "correction", "subject": "person", "subject_id": person, "text": " ",
            "reply_due": (t.app.clock.now() + Duration::days(2)).to_rfc3339()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            &procurator,
            json!({"kind": "correction", "subject": "person", "subject_id": person, "text": "a\u{0}b",
            "reply_due": (t.app.clock.now() + Duration::days(2)).to_rfc3339()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
    ] {
        let reply = t.post(OPINIONS, token, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.is_problem());
        assert_eq!(reply.field(), field, "{}", reply.body);
    }
    assert_eq!((t.count("opinions").await, t.app.store.log_head().await.unwrap()), before, "nothing written");

    let issued = t.post(OPINIONS, &procurator, opinion(t, "correction", "person", person, 2)).await;
    let path = format!("{OPINIONS}/{}/reply", issued.body["id"]);
    let before = t.app.store.log_head().await.unwrap();
    let reply = json!({"outcome": "partly_adopted", "text": "部分采纳"});
    for (token, status) in
        [(&wuchang, StatusCode::NOT_FOUND), (&office, StatusCode::FORBIDDEN), (&procurator, StatusCode::FORBIDDEN)]
    {
        let answer = t.post(&path, token, reply.clone()).await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
    let bad = t.post(&path, &county, json!({"outcome": "ignored", "text": "x"})).await;
    assert_eq!((bad.status, bad.field()), (StatusCode::UNPROCESSABLE_ENTITY, "outcome"), "{}", bad.body);
    assert_eq!(t.app.store.log_head().await.unwrap(), before, "no reply recorded");
    assert_eq!(t.get(&format!("{OPINIONS}/{}", issued.body["id"]), &wc_procurator).await.status, StatusCode::NOT_FOUND);

    assert_eq!(t.post(&path, &county, reply).await.status, StatusCode::OK);
    let other = t.post(&path, &county, json!({"outcome": "adopted", "text": "全部采纳"})).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "one written reply per opinion");
}
