//! Off-the-shelf tracking apps: OsmAnd / Traccar Client and OwnTracks as check-in clients.

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::{call, TestApp};

backend_tests!(osmand_clients_check_in_with_the_key_in_the_url, owntracks_clients_check_in_with_basic_auth);

async fn enrolled_phone(t: &TestApp) -> Value {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    t.phone(&officer, person).await
}

async fn osmand_clients_check_in_with_the_key_in_the_url(t: &TestApp) {
    let device = enrolled_phone(t).await;
    let key = device["device_key"].as_str().unwrap();
    let ts = (chrono::Utc::now() - chrono::Duration::minutes(3)).timestamp();
    let url = format!("/api/v1/compat/osmand?id={key}&lat=30.62&lon=114.30&timestamp={ts}&accuracy=12&speed=0");
    let reply = t.call(Method::GET, &url, None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Traccar Client retries: the same position time is the same fix.
    assert_eq!(t.call(Method::POST, &url, None, None).await.status, StatusCode::OK);
    assert_eq!(t.count("fixes").await, 1);
    // The form-encoded variant, a moment later.
    let form = format!("id={key}&lat=30.621&lon=114.301&timestamp={}", (ts + 60) * 1000);
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let router = t.router();
    let reply = call_form(&router, "/api/v1/compat/osmand", &form, &headers).await;
    assert_eq!(reply, StatusCode::OK);
    assert_eq!(t.count("fixes").await, 2);

    let wrong_key = t
        .call(Method::GET, &format!("/api/v1/compat/osmand?id=ldk_00&lat=30.6&lon=114.3&timestamp={ts}"), None, None)
        .await;
    assert_eq!(wrong_key.status, StatusCode::UNAUTHORIZED);
    let no_lat =
        t.call(Method::GET, &format!("/api/v1/compat/osmand?id={key}&lon=114.3&timestamp={ts}"), None, None).await;
    assert_eq!((no_lat.status, no_lat.field()), (StatusCode::UNPROCESSABLE_ENTITY, "lat"));
    let bad_time = t
        .call(Method::GET, &format!("/api/v1/compat/osmand?id={key}&lat=30.6&lon=114.3&timestamp=soon"), None, None)
        .await;
    assert_eq!((bad_time.status, bad_time.field()), (StatusCode::UNPROCESSABLE_ENTITY, "timestamp"));
    let far = t
        .call(Method::GET, &format!("/api/v1/compat/osmand?id={key}&lat=130&lon=114.3&timestamp={ts}"), None, None)
        .await;
    assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.count("fixes").await, 2);
}

async fn call_form(router: &axum::Router, uri: &str, body: &str, headers: &[(&str, &str)]) -> StatusCode {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(Method::POST).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(axum::body::Body::from(body.to_owned())).unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

async fn owntracks_clients_check_in_with_basic_auth(t: &TestApp) {
    let device = enrolled_phone(t).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        device["device_id"],
        device["device_key"].as_str().unwrap()
    ));
    let auth = format!("Basic {basic}");
    let headers = [("authorization", auth.as_str())];
    let tst = (chrono::Utc::now() - chrono::Duration::minutes(2)).timestamp();
    let location = json!({"_type": "location", "lat": 30.62, "lon": 114.30, "tst": tst, "acc": 8, "tid": "zs"});
    let router = t.router();
    let reply = call(&router, Method::POST, "/api/v1/compat/owntracks", None, Some(location.clone()), &headers).await;
    assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, json!([])));
    let again = call(&router, Method::POST, "/api/v1/compat/owntracks", None, Some(location), &headers).await;
    assert_eq!(again.status, StatusCode::OK);
    let other = json!({"_type": "lwt", "tst": tst});
    assert_eq!(
        call(&router, Method::POST, "/api/v1/compat/owntracks", None, Some(other), &headers).await.body,
        json!([])
    );
    assert_eq!(t.count("fixes").await, 1);

    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{}:ldk_wrong", device["device_id"]));
    let wrong = format!("Basic {wrong}");
    let refused =
        call(&router, Method::POST, "/api/v1/compat/owntracks", None, Some(json!({})), &[("authorization", &wrong)])
            .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let missing = json!({"_type": "location", "lat": 30.62, "lon": 114.30});
    let reply = call(&router, Method::POST, "/api/v1/compat/owntracks", None, Some(missing), &headers).await;
    assert_eq!((reply.status, reply.field()), (StatusCode::UNPROCESSABLE_ENTITY, "tst"));
}
