//! The case register: enrolment, reading within scope, registration, retries.

use axum::http::{Method, StatusCode};
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::{call, person_body, TestApp};

backend_tests!(
    an_officer_enrols_each_category_with_its_registration_day,
    bad_enrolments_name_the_field_and_write_nothing,
    scope_decides_who_sees_and_changes_a_person,
    registration_is_recorded_once,
    a_retried_enrolment_is_stored_once,
    lists_filter_and_page_within_scope,
    concurrent_registrations_record_one_day,
);

async fn concurrent_registrations_record_one_day(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let id = t.enrol(&token).await;
    let (_, second) = t.second_instance().await;
    let events = t.count("oversight_events").await;
    let path = format!("/api/v1/persons/{id}/registration");
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let router = if i % 2 == 0 { t.router() } else { second.clone() };
            let (path, token) = (path.clone(), token.clone());
            let day = format!("2026-03-{:02}", 5 + i);
            tokio::spawn(async move {
                call(&router, Method::POST, &path, Some(&token), Some(json!({"on": day})), &[]).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(t.count("oversight_events").await, events + 1);
}

async fn an_officer_enrols_each_category_with_its_registration_day(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let cases = [
        ("control", None, "2026-03-11", "person"),
        ("probation", None, "2026-03-11", "person"),
        ("parole", Some("2026-03-05"), "2026-03-15", "person"),
        ("temporary_release", None, "2026-03-11", "custodian"),
    ];
    for (category, released_on, due, responsible) in cases {
        let mut body = person_body("ja", "420102");
        body["category"] = json!(category);
        body["released_on"] = json!(released_on);
        let reply = t.post("/api/v1/persons", &token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{category}: {}", reply.body);
        assert_eq!(reply.body["registration"]["due_on"], due, "{category}");
        assert_eq!(reply.body["registration"]["responsible"], responsible, "{category}");
        assert_eq!(reply.body["residence_name"], "江岸区");

        let id = reply.body["id"].as_i64().unwrap();
        let read = t.get(&format!("/api/v1/persons/{id}"), &token).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!((read.body["category"].as_str(), read.body["city"].as_str()), (Some(category), Some("420100")));
        assert_eq!(read.body["devices"], json!([]));
    }
}

async fn bad_enrolments_name_the_field_and_write_nothing(t: &TestApp) {
    let token = t.jiangan_officer().await;
    t.office("wc", "420106").await;
    let (persons, events) = (t.count("persons").await, t.count("oversight_events").await);
    let with = |field: &str, value: Value| {
        let mut body = person_body("ja", "420102");
        body[field] = value;
        body
    };
    let mut missing_name = person_body("ja", "420102");
    missing_name.as_object_mut().unwrap().remove("name");
    let cases = [
        (with("category", json!("house_arrest")), StatusCode::UNPROCESSABLE_ENTITY, "category"),
        (with("judgment_effective_on", json!(20260301)), StatusCode::UNPROCESSABLE_ENTITY, "judgment_effective_on"),
        (with("judgment_effective_on", json!("2026-02-30")), StatusCode::UNPROCESSABLE_ENTITY, "judgment_effective_on"),
        (with("judgment_effective_on", json!("0900-01-01")), StatusCode::UNPROCESSABLE_ENTITY, "judgment_effective_on"),
        (with("supervision_ends_on", json!("9999-12-31")), StatusCode::UNPROCESSABLE_ENTITY, "supervision_ends_on"),
        (with("residence_adcode", json!("429999")), StatusCode::UNPROCESSABLE_ENTITY, "residence_adcode"),
        (with("residence_adcode", json!("420100")), StatusCode::UNPROCESSABLE_ENTITY, "residence_adcode"),
        (with("residence_adcode", json!("420106")), StatusCode::UNPROCESSABLE_ENTITY, "residence_adcode"),
        (with("supervision_ends_on", json!("2026-01-01")), StatusCode::UNPROCESSABLE_ENTITY, "supervision_ends_on"),
        (with("category", json!("parole")), StatusCode::UNPROCESSABLE_ENTITY, "released_on"),
        (with("released_on", json!("2026-03-05")), StatusCode::UNPROCESSABLE_ENTITY, "released_on"),
        (with("office", json!("wc")), StatusCode::UNPROCESSABLE_ENTITY, "office"),
        (with("office", json!("no-such-office")), StatusCode::UNPROCESSABLE_ENTITY, "office"),
        (with("name", json!("  ")), StatusCode::UNPROCESSABLE_ENTITY, "name"),
        (with("surprise", json!(1)), StatusCode::UNPROCESSABLE_ENTITY, "surprise"),
        (missing_name, StatusCode::UNPROCESSABLE_ENTITY, "name"),
    ];
    for (body, status, field) in cases {
        let reply = t.post("/api/v1/persons", &token, body).await;
        assert_eq!((reply.status, reply.field()), (status, field), "{}", reply.body);
        assert!(reply.is_problem());
        assert!(reply.body["detail"].as_str().unwrap().starts_with(field), "{}", reply.body);
    }
    let headers = [("authorization", format!("Bearer {token}")), ("content-type", "application/json".into())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let malformed = call_raw(t, "/api/v1/persons", &headers, "{\"name\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!((t.count("persons").await, t.count("oversight_events").await), (persons, events));
}

async fn call_raw(t: &TestApp, uri: &str, headers: &[(&str, &str)], body: &str) -> crate::harness::Reply {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(Method::POST).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = t.router().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    crate::harness::Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

async fn scope_decides_who_sees_and_changes_a_person(t: &TestApp) {
    let jiangan = t.jiangan_officer().await;
    t.office("ja2", "420102").await;
    t.office("wc", "420106").await;
    let office_ja = t.user("ja-office", Role::OfficeOfficer, "ja").await;
    let office_ja2 = t.user("ja2-office", Role::OfficeOfficer, "ja2").await;
    let wuchang = t.user("wc-county", Role::CountyOfficer, "420106").await;
    let wuhan = t.user("wh-city", Role::CityOfficer, "420100").await;
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    let wc_procurator = t.user("wc-proc", Role::Procurator, "420106").await;
    let head = t.user("ja-head", Role::CountyHead, "420102").await;
    let admin = t.user("root", Role::Admin, "420000").await;
    let id = t.enrol(&jiangan).await;
    let path = format!("/api/v1/persons/{id}");

    for (token, can_read) in [
        (&jiangan, true),
        (&office_ja, true),
        (&wuhan, true),
        (&procurator, true),
        (&head, true),
        (&office_ja2, false),
        (&wuchang, false),
        (&wc_procurator, false),
        (&admin, false),
    ] {
        let reply = t.get(&path, token).await;
        let missing = t.get("/api/v1/persons/999999", token).await;
        if can_read {
            assert_eq!(reply.status, StatusCode::OK);
        } else {
            assert_eq!(reply.status, StatusCode::NOT_FOUND);
            assert_eq!(reply.body, missing.body, "out of scope looks exactly like nonexistent");
        }
        let listed = t.get("/api/v1/persons", token).await.body["persons"].as_array().unwrap().len();
        assert_eq!(listed, usize::from(can_read));
    }

    let events = t.count("oversight_events").await;
    // Readers who may not write are told so; outsiders learn nothing.
    let registration = format!("{path}/registration");
    assert_eq!(t.post(&registration, &procurator, json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.post(&registration, &head, json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.post(&registration, &wuchang, json!({})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.post("/api/v1/persons", &procurator, person_body("ja", "420102")).await.status, StatusCode::FORBIDDEN);
    let devices = format!("{path}/devices");
    assert_eq!(t.post(&devices, &procurator, json!({"kind": "phone"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.post(&devices, &wuchang, json!({"kind": "phone"})).await.status, StatusCode::NOT_FOUND);
    // An office officer enrols only into their own office.
    let other_office = t.post("/api/v1/persons", &office_ja2, person_body("ja", "420102")).await;
    assert_eq!((other_office.status, other_office.field()), (StatusCode::UNPROCESSABLE_ENTITY, "office"));
    assert_eq!(t.count("oversight_events").await, events, "refusals write nothing");
    assert_eq!(t.post(&registration, &office_ja, json!({"on": "2026-03-05"})).await.status, StatusCode::OK);
}

async fn registration_is_recorded_once(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let id = t.enrol(&token).await;
    let path = format!("/api/v1/persons/{id}/registration");
    let events = t.count("oversight_events").await;

    let future = t.post(&path, &token, json!({"on": "2999-01-01"})).await;
    assert_eq!((future.status, future.field()), (StatusCode::UNPROCESSABLE_ENTITY, "on"));
    let early = t.post(&path, &token, json!({"on": "2026-02-01"})).await;
    assert_eq!((early.status, early.field()), (StatusCode::UNPROCESSABLE_ENTITY, "on"));

    let late = t.post(&path, &token, json!({"on": "2026-03-14"})).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(late.body["registration"]["registered_on"], "2026-03-14");
    assert_eq!(late.body["registration"]["days_late"], 3);
    let again = t.post(&path, &token, json!({"on": "2026-03-14"})).await;
    assert_eq!(again.status, StatusCode::OK);
    let other_day = t.post(&path, &token, json!({"on": "2026-03-12"})).await;
    assert_eq!(other_day.status, StatusCode::CONFLICT);
    assert_eq!(t.count("oversight_events").await, events + 1, "one registration, one event");
}

async fn a_retried_enrolment_is_stored_once(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let headers = |key: &'static str| [("idempotency-key", key)];
    let body = person_body("ja", "420102");
    let first =
        call(&t.router(), Method::POST, "/api/v1/persons", Some(&token), Some(body.clone()), &headers("req-1")).await;
    let retry =
        call(&t.router(), Method::POST, "/api/v1/persons", Some(&token), Some(body.clone()), &headers("req-1")).await;
    assert_eq!((first.status, retry.status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first.body["id"], retry.body["id"]);
    let mut other = body.clone();
    other["name"] = json!("李四");
    let reused = call(&t.router(), Method::POST, "/api/v1/persons", Some(&token), Some(other), &headers("req-1")).await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    let bad_key =
        call(&t.router(), Method::POST, "/api/v1/persons", Some(&token), Some(body), &[("idempotency-key", "")]).await;
    assert_eq!((bad_key.status, bad_key.field()), (StatusCode::BAD_REQUEST, "Idempotency-Key"));
    assert_eq!(t.count("persons").await, 1);
}

async fn lists_filter_and_page_within_scope(t: &TestApp) {
    t.app.test_clock.as_ref().unwrap().set("2026-03-20T04:00:00Z".parse().unwrap());
    let token = t.jiangan_officer().await;
    let ids: Vec<i64> = enrol_many(t, &token, 5).await;
    t.post(&format!("/api/v1/persons/{}/registration", ids[0]), &token, json!({"on": "2026-03-10"})).await;

    let page = t.get("/api/v1/persons?limit=2", &token).await;
    assert_eq!(page.body["persons"].as_array().unwrap().len(), 2);
    let next = page.body["next"].as_i64().unwrap();
    let rest = t.get(&format!("/api/v1/persons?limit=10&after={next}"), &token).await;
    assert_eq!(rest.body["persons"].as_array().unwrap().len(), 3);
    assert!(rest.body["next"].is_null());

    let missed = t.get("/api/v1/persons?unregistered=true", &token).await;
    let missed: Vec<i64> =
        missed.body["persons"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(missed, ids[1..], "漏管: everyone but the registered person");
    assert_eq!(t.get("/api/v1/persons?office=elsewhere", &token).await.body["persons"], json!([]));
    for bad in ["limit=0", "limit=501", "after=-1", "limit=ten", "unregistered=maybe"] {
        let reply = t.get(&format!("/api/v1/persons?{bad}"), &token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.field(), bad.split('=').next().unwrap());
    }
}

async fn enrol_many(t: &TestApp, token: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(t.enrol(token).await);
    }
    ids
}
