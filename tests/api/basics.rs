//! Operations endpoints, the OpenAPI document and the error format for requests that go wrong
//! before any handler runs.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::harness::TestApp;

backend_tests!(
    health_readiness_and_metrics_answer,
    the_openapi_document_describes_every_route,
    requests_that_go_wrong_early_still_get_problem_json,
);

async fn health_readiness_and_metrics_answer(t: &TestApp) {
    assert_eq!(t.call(Method::GET, "/healthz", None, None).await.body, json!({"status": "ok"}));
    assert_eq!(t.call(Method::GET, "/readyz", None, None).await.status, StatusCode::OK);
    t.login("nobody", "whatever password").await;
    let metrics = t.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains(r#"http_requests_total{method="POST",route="/api/v1/auth/login",status="401"}"#), "{text}");
    t.app.store.close().await;
    let down = t.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.is_problem());
}

async fn the_openapi_document_describes_every_route(t: &TestApp) {
    let doc = t.call(Method::GET, "/api/openapi.json", None, None).await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let routes = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/password", "post"),
        ("/api/v1/auth/device", "post"),
        ("/api/v1/persons", "post"),
        ("/api/v1/persons", "get"),
        ("/api/v1/persons/{id}", "get"),
        ("/api/v1/persons/{id}/registration", "post"),
        ("/api/v1/persons/{id}/track", "get"),
        ("/api/v1/persons/{id}/checkin-requests", "post"),
        ("/api/v1/persons/{id}/checkin-requests", "get"),
        ("/api/v1/persons/{id}/sanctions", "post"),
        ("/api/v1/persons/{id}/end", "post"),
        ("/api/v1/persons/{id}/monitoring-orders", "post"),
        ("/api/v1/persons/{id}/monitoring-orders", "get"),
        ("/api/v1/persons/{id}/monitoring-orders/{order}/renew", "post"),
        ("/api/v1/persons/{id}/monitoring-orders/{order}/lift", "post"),
        ("/api/v1/persons/{id}/devices", "post"),
        ("/api/v1/persons/{id}/devices", "get"),
        ("/api/v1/persons/{id}/devices/{device_id}", "delete"),
        ("/api/v1/persons/{id}/zones", "post"),
        ("/api/v1/persons/{id}/zones", "get"),
        ("/api/v1/checkins", "post"),
        ("/api/v1/alerts", "get"),
        ("/api/v1/travel-applications", "post"),
        ("/api/v1/travel-applications", "get"),
        ("/api/v1/travel-applications/{id}/cancel", "post"),
        ("/api/v1/travel-applications/{id}/decision", "post"),
        ("/api/v1/travel-applications/{id}/arrival", "post"),
        ("/api/v1/travel-applications/{id}/return", "post"),
        ("/api/v1/travel-applications/{id}", "get"),
        ("/api/v1/travel-applications/{id}/extension", "post"),
        ("/api/v1/travel-applications/{id}/consultation", "post"),
        ("/api/v1/consultations/{id}/opinion", "post"),
        ("/api/v1/travel-applications/{id}/hearing", "post"),
        ("/api/v1/travel-applications/{id}/hearing/outcome", "post"),
        ("/api/v1/alerts/{id}/acknowledge", "post"),
        ("/api/v1/alerts/{id}/resolve", "post"),
        ("/api/v1/alerts/{id}/suppress", "post"),
        ("/api/v1/compat/osmand", "get"),
        ("/api/v1/compat/osmand", "post"),
        ("/api/v1/compat/owntracks", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/oversight/events", "get"),
        ("/api/v1/oversight/stream", "get"),
        ("/api/v1/oversight/verify", "get"),
        ("/api/v1/oversight/summary", "get"),
        ("/api/v1/oversight/opinions", "post"),
        ("/api/v1/oversight/opinions", "get"),
        ("/api/v1/oversight/opinions/{id}", "get"),
        ("/api/v1/oversight/opinions/{id}/reply", "post"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/test/clock", "post"),
        ("/api/openapi.json", "get"),
    ];
    for (path, method) in routes {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not described");
    }
    let described: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(described, routes.len(), "a described route that this test does not know");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

async fn requests_that_go_wrong_early_still_get_problem_json(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let nowhere = t.get("/api/v1/nowhere", &token).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.is_problem());
    let wrong_method = t.call(Method::PUT, "/api/v1/persons", Some(&token), None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.is_problem());
    let huge = json!({"name": "x".repeat(2 << 20)});
    let too_big = t.post("/api/v1/persons", &token, huge).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(too_big.is_problem());
    let not_json = crate::harness::call(
        &t.router(),
        Method::POST,
        "/api/v1/auth/login",
        None,
        None,
        &[("content-type", "text/plain")],
    )
    .await;
    assert_eq!((not_json.status, not_json.field()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"));
    assert_eq!(t.count("persons").await, 0);
}
