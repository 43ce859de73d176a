//! The live feed: Server-Sent Events that resume exactly after the last id received.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::backend_tests;
use crate::harness::TestApp;
use crate::oversight::two_counties;

backend_tests!(
    the_stream_resumes_exactly_after_the_last_event_id,
    a_stream_from_an_unknown_id_is_refused,
    a_quiet_stream_sends_heartbeats_and_ends_with_its_token,
);

/// An open stream: what has arrived so far, as text.
struct Stream {
    body: Body,
    text: String,
}

async fn open(router: &axum::Router, token: &str, last_event_id: Option<i64>) -> (StatusCode, Stream) {
    let mut request = Request::get("/api/v1/oversight/stream").header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    (status, Stream { body: response.into_body(), text: String::new() })
}

impl Stream {
    /// Reads until `n` events have arrived (or fails after 10 s): their ids and data.
    async fn events(&mut self, n: usize) -> Vec<(i64, Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let events = parse(&self.text);
            if events.len() >= n {
                return events;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await.expect("events in time");
            let data = frame.unwrap().unwrap().into_data().unwrap();
            self.text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

fn parse(text: &str) -> Vec<(i64, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            Some((field("id:")?.trim().parse().ok()?, serde_json::from_str(field("data:")?.trim()).ok()?))
        })
        .collect()
}

async fn the_stream_resumes_exactly_after_the_last_event_id(t: &TestApp) {
    let (jiangan, wuchang, ja_proc, _, _) = two_counties(t).await;
    let mut persons = Vec::new();
    for _ in 0..3 {
        persons.push(t.enrol(&jiangan).await);
        t.post("/api/v1/persons", &wuchang, crate::harness::person_body("wc", "420106")).await;
    }
    let page = t.get("/api/v1/oversight/events?limit=1000", &ja_proc).await;
    let ja: Vec<i64> = page.body["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    // Resume after the second Jiang'an event: the third comes next, then everything after it.
    let (status, mut stream) = open(&t.router(), &ja_proc, Some(ja[1])).await;
    assert_eq!(status, StatusCode::OK);
    let got = stream.events(ja.len() - 2).await;
    let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, ja[2..], "exactly the events after Last-Event-ID, in order, Jiang'an only");
    assert!(got.iter().all(|(id, e)| e["seq"] == *id && e["county"] == "420102"));

    // Live: a change made now arrives on the open stream; Wuchang's does not.
    t.post("/api/v1/persons", &wuchang, crate::harness::person_body("wc", "420106")).await;
    let person = t.enrol(&jiangan).await;
    let got = stream.events(ja.len() - 1).await;
    let (last_id, last) = got.last().unwrap();
    assert_eq!((last["kind"].as_str(), last["person_id"].as_i64()), (Some("person.enrolled"), Some(person)));
    assert_eq!(*last_id, t.app.store.log_head().await.unwrap());
}

async fn a_stream_from_an_unknown_id_is_refused(t: &TestApp) {
    let (jiangan, _, ja_proc, _, _) = two_counties(t).await;
    let head = t.app.store.log_head().await.unwrap();
    let (status, _) = open(&t.router(), &ja_proc, Some(head + 5)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an id the log never handed out");
    let (status, _) = open(&t.router(), &ja_proc, Some(-1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = open(&t.router(), &jiangan, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "officers do not read the procuratorate's feed");
    let bad = crate::harness::call(
        &t.router(),
        axum::http::Method::GET,
        "/api/v1/oversight/stream",
        Some(&ja_proc),
        None,
        &[("last-event-id", "yesterday")],
    )
    .await;
    assert_eq!((bad.status, bad.field()), (StatusCode::BAD_REQUEST, "Last-Event-ID"), "{}", bad.body);
}

async fn a_quiet_stream_sends_heartbeats_and_ends_with_its_token(t: &TestApp) {
    let (_, _, ja_proc, _, _) = two_counties(t).await;
    let (_, router) = t.instance_with(|s| s.oversight.heartbeat_seconds = 1).await;
    let (status, mut stream) = open(&router, &ja_proc, None).await;
    assert_eq!(status, StatusCode::OK);
    let frame = tokio::time::timeout(Duration::from_secs(5), stream.body.frame()).await.expect("a heartbeat in time");
    let text = String::from_utf8(frame.unwrap().unwrap().into_data().unwrap().to_vec()).unwrap();
    assert_eq!(text.trim(), ": heartbeat");
    // The procurator is disabled: the stream ends (here within the 1 s status cache).
    t.app.store.disable_user("ja-proc", "cli", t.app.clock.now()).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = stream.body.frame().await {
            frame.unwrap();
        }
    });
    ended.await.expect("the stream ends once its token stops working");
}
