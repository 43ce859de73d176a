//! Webhooks: the events of a scope pushed, signed, to an agency's own system, at least once and
//! in order, through a receiver's failures.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use liandong::oversight::deliver;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::backend_tests;
use crate::harness::{person_body, TestApp};
use crate::oversight::two_counties;

backend_tests!(
    a_receiver_that_fails_twice_still_gets_every_event_once_it_recovers,
    two_instances_deliver_each_event_once,
    every_subscription_gets_its_turn_and_a_narrowed_allowlist_stops_delivery,
    bad_subscriptions_are_refused_and_nothing_is_written,
);

/// A receiver that answers 500 to its first `failures` requests and records the rest.
#[derive(Clone, Default)]
struct Receiver {
    failures: Arc<Mutex<usize>>,
    taken: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    async fn start(failures: usize) -> (Receiver, String) {
        let receiver = Receiver { failures: Arc::new(Mutex::new(failures)), ..Receiver::default() };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let mut failures = state.failures.lock().unwrap();
                    if *failures > 0 {
                        *failures -= 1;
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    state.taken.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?token=receiver-secret", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn events(&self) -> Vec<Value> {
        let taken = self.taken.lock().unwrap();
        taken.iter().map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["event"].clone()).collect()
    }
}

async fn a_receiver_that_fails_twice_still_gets_every_event_once_it_recovers(t: &TestApp) {
    let (county, wuchang, _, _, _) = two_counties(t).await;
    let (receiver, url) = Receiver::start(2).await;
    let created = t.post("/api/v1/webhooks", &county, json!({"url": url, "kinds": ["person.enrolled"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let (id, secret) = (created.body["id"].clone(), created.body["secret"].as_str().unwrap().to_owned());
    let mut persons = Vec::new();
    for _ in 0..3 {
        persons.push(t.enrol(&county).await);
        t.post("/api/v1/persons", &wuchang, person_body("wc", "420106")).await;
    }
    let client = deliver::client(&t.app).unwrap();

    // Two failures, each retried only after its backoff (1 s, then 2 s).
    assert_eq!(deliver::deliver_due(&t.app, &client).await.unwrap(), 0);
    assert_eq!(deliver::deliver_due(&t.app, &client).await.unwrap(), 0, "not before the backoff");
    let status = t.get(&format!("/api/v1/webhooks/{id}"), &county).await.body;
    assert_eq!((status["failures"].as_i64(), status["last_status"].as_i64()), (Some(1), Some(500)), "{status}");
    t.test_clock_advance(1);
    assert_eq!(deliver::deliver_due(&t.app, &client).await.unwrap(), 0);
    t.test_clock_advance(1);
    assert_eq!(deliver::deliver_due(&t.app, &client).await.unwrap(), 0, "the second wait is 2 s");
    t.test_clock_advance(1);
    assert_eq!(deliver::deliver_due(&t.app, &client).await.unwrap(), 3, "recovered: everything owed");

    let got = receiver.events();
    let enrolled: Vec<i64> = got.iter().map(|e| e["person_id"].as_i64().unwrap()).collect();
    assert_eq!(enrolled, persons, "every Jiang'an enrolment once, in order; nothing of Wuchang");
    assert!(got.iter().all(|e| e["kind"] == "person.enrolled" && e["county"] == "420102"));
    for (headers, body) in receiver.taken.lock().unwrap().iter() {
        let signature = headers["liandong-signature"].to_str().unwrap();
        let (t_part, v1) = signature.split_once(',').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.", t_part.strip_prefix("t=").unwrap()).as_bytes());
        mac.update(body);
        assert_eq!(v1.strip_prefix("v1=").unwrap(), hex::encode(mac.finalize().into_bytes()), "signed");
    }
    let status = t.get(&format!("/api/v1/webhooks/{id}"), &county).await.body;
    assert_eq!(status["failures"], 0, "{status}");
    assert_eq!(status["behind"], 0, "caught up with the log");
    assert!(status.get("secret").is_none(), "the secret is shown once");
    let attempts: Vec<Option<i64>> =
        status["attempts"].as_array().unwrap().iter().map(|a| a["status"].as_i64()).collect();
    assert_eq!(attempts, [Some(204), Some(204), Some(204), Some(500), Some(500)], "every attempt, newest first");

    // The log says a receiver was attached, naming its host but not the token in its URL.
    let events = t.app.store.events_after(0, 1000).await.unwrap();
    let created = events.iter().find(|e| e.kind == "webhook.created").unwrap();
    assert!(created.data.contains("127.0.0.1") && !created.data.contains("receiver-secret"), "{}", created.data);
}

async fn two_instances_deliver_each_event_once(t: &TestApp) {
    let (county, _, _, _, ja_proc) = two_counties(t).await;
    let (receiver, url) = Receiver::start(0).await;
    for token in [&county, &ja_proc] {
        let created = t.post("/api/v1/webhooks", token, json!({"url": url, "after": 0})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    for _ in 0..5 {
        t.enrol(&county).await;
    }
    let (second, _) = t.second_instance().await;
    let (one, two) = (deliver::client(&t.app).unwrap(), deliver::client(&second).unwrap());
    let (a, b) = tokio::join!(deliver::deliver_due(&t.app, &one), deliver::deliver_due(&second, &two));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Jiang'an's agency gets its county; Wuhan's procuratorate the city, which holds it too.
    let county_events =
        t.app.store.events_after(0, 1000).await.unwrap().iter().filter(|e| e.county == "420102").count();
    let all = t.app.store.log_head().await.unwrap() as usize;
    assert_eq!(a + b, county_events + all, "each subscription's events, each delivered once");
    assert_eq!(receiver.events().len(), county_events + all);
}

async fn bad_subscriptions_are_refused_and_nothing_is_written(t: &TestApp) {
    let (county, wuchang, procurator, _, _) = two_counties(t).await;
    let head = t.app.store.log_head().await.unwrap();
    for (body, status, field) in [
        (json!({"url": "ftp://sms.example.cn/in"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (json!({"url": "https://user:pw@sms.example.cn/in"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (json!({"url": "sms.example.cn"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (json!({"url": "https://evil.example.com/in"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (json!({"url": "http://169.254.169.254/latest/meta-data"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (json!({"url": "https://sms.example.cn/in\u{0}"}), StatusCode::UNPROCESSABLE_ENTITY, "url"),
        (
            json!({"url": "https://sms.example.cn/in", "kinds": ["alert.exploded"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kinds[0]",
        ),
        (json!({"url": "https://sms.example.cn/in", "after": head + 1}), StatusCode::UNPROCESSABLE_ENTITY, "after"),
        (json!({"url": "https://sms.example.cn/in", "after": -1}), StatusCode::UNPROCESSABLE_ENTITY, "after"),
    ] {
        let reply = t.post("/api/v1/webhooks", &county, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.is_problem());
        assert_eq!(reply.field(), field, "{body}: {}", reply.body);
    }
    assert_eq!((t.count("webhooks").await, t.app.store.log_head().await.unwrap()), (0, head), "nothing written");

    let created = t.post("/api/v1/webhooks", &county, json!({"url": "https://sms.example.cn/in"})).await;
    let path = format!("/api/v1/webhooks/{}", created.body["id"]);
    assert_eq!(t.get(&path, &wuchang).await.status, StatusCode::NOT_FOUND, "another agency's subscription");
    let gone = t.call(axum::http::Method::DELETE, &path, Some(&wuchang), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let gone = t.call(axum::http::Method::DELETE, &path, Some(&county), None).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    assert!(t.get("/api/v1/webhooks", &county).await.body["webhooks"].as_array().unwrap().is_empty());

    // The procuratorate's receiver of the same county is its own: the agency it oversees can
    // neither see it (nor the token in its URL) nor switch it off.
    let url = "https://sms.example.cn/jcy?token=procuratorate-token";
    let theirs = t.post("/api/v1/webhooks", &procurator, json!({"url": url})).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let listed = t.get("/api/v1/webhooks", &county).await;
    assert!(!listed.body.to_string().contains("procuratorate-token"), "{}", listed.body);
    let path = format!("/api/v1/webhooks/{}", theirs.body["id"]);
    assert_eq!(t.call(axum::http::Method::DELETE, &path, Some(&county), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&path, &procurator).await.body["deleted_at"], Value::Null, "still running");
}

async fn every_subscription_gets_its_turn_and_a_narrowed_allowlist_stops_delivery(t: &TestApp) {
    let (county, _, _, _, _) = two_counties(t).await;
    let (receiver, url) = Receiver::start(0).await;
    // More subscriptions than one round delivers at once (8).
    for _ in 0..10 {
        let created = t.post("/api/v1/webhooks", &county, json!({"url": url, "kinds": ["person.enrolled"]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let client = deliver::client(&t.app).unwrap();
    for _ in 0..3 {
        t.enrol(&county).await;
        deliver::deliver_due(&t.app, &client).await.unwrap();
    }
    let served: std::collections::BTreeSet<i64> = receiver
        .taken
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["webhook_id"].as_i64().unwrap())
        .collect();
    assert_eq!(served.len(), 10, "none starves behind the first eight: {served:?}");

    // The operator narrows the allowlist: an instance with the new setting sends nothing more.
    let before = receiver.taken.lock().unwrap().len();
    t.enrol(&county).await;
    let (narrowed, _) = t.instance_with(|s| s.oversight.webhook_hosts = vec!["sms.example.cn".into()]).await;
    deliver::deliver_due(&narrowed, &deliver::client(&narrowed).unwrap()).await.unwrap();
    assert_eq!(receiver.taken.lock().unwrap().len(), before, "nothing sent to a host no longer allowed");
    let listed = t.get("/api/v1/webhooks", &county).await.body;
    let refused = listed["webhooks"].as_array().unwrap().iter().filter(|w| w["failures"] == 1).count();
    assert!(refused > 0, "{listed}");
    assert!(listed.to_string().contains("no longer allowed"), "{listed}");
}
