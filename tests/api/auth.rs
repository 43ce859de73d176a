//! Logging in, tokens, throttling, password changes and disabled users.

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{TestApp, PASSWORD};

backend_tests!(
    a_staff_token_opens_the_console_and_nothing_else_does,
    wrong_unknown_and_disabled_logins_are_refused_alike,
    repeated_failures_lock_the_user_name_for_a_while,
    a_burst_of_guesses_gets_no_more_tries_than_the_limit,
    expired_tampered_unsigned_and_foreign_tokens_are_refused,
    a_password_change_ends_every_earlier_token,
);

async fn a_staff_token_opens_the_console_and_nothing_else_does(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let reply = t.login("ja-county", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 480 * 60);

    assert_eq!(t.get("/api/v1/persons", &token).await.status, StatusCode::OK);
    let anonymous = t.call(Method::GET, "/api/v1/persons", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.is_problem());
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
}

async fn wrong_unknown_and_disabled_logins_are_refused_alike(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let wrong = t.login("ja-county", "not the password at all").await;
    let unknown = t.login("nobody", PASSWORD).await;
    assert_eq!((wrong.status, unknown.status), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(wrong.body["detail"], unknown.body["detail"], "an unknown user name is not revealed");

    t.app.store.disable_user("ja-county", "cli", t.app.clock.now()).await.unwrap();
    assert_eq!(t.login("ja-county", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    // Disabled from another process: this instance notices within the status cache's lifetime.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reply = t.get("/api/v1/persons", &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}

async fn repeated_failures_lock_the_user_name_for_a_while(t: &TestApp) {
    t.jiangan_officer().await;
    for _ in 0..5 {
        assert_eq!(t.login("ja-county", "wrong password, again").await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = t.login("ja-county", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert_eq!(locked.headers["retry-after"], "60");
    // Unknown names lock too, so that locking reveals nothing about which names exist.
    for _ in 0..5 {
        t.login("ghost", "wrong password, again").await;
    }
    assert_eq!(t.login("ghost", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);

    t.app.test_clock.as_ref().unwrap().advance(chrono::Duration::seconds(61));
    assert_eq!(t.login("ja-county", PASSWORD).await.status, StatusCode::OK);
    // Success clears the count: one more failure does not lock again.
    t.login("ja-county", "wrong password, again").await;
    assert_eq!(t.login("ja-county", PASSWORD).await.status, StatusCode::OK);
}

async fn a_burst_of_guesses_gets_no_more_tries_than_the_limit(t: &TestApp) {
    t.jiangan_officer().await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let router = t.router();
            tokio::spawn(async move {
                let body = json!({"username": "ja-county", "password": "a guess at the password"});
                crate::harness::call(&router, Method::POST, "/api/v1/auth/login", None, Some(body), &[]).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(tried, 5, "only five guesses are checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 15);
    let old = t.app.store.account_by_name("ja-county").await.unwrap().unwrap();
    assert!(old.disabled_at.is_none(), "locking is not disabling");
}

async fn expired_tampered_unsigned_and_foreign_tokens_are_refused(t: &TestApp) {
    let token = t.jiangan_officer().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();

    claims["scope"] = json!("420106");
    let tampered = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    let unsigned = format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let hmac = format!("{}.{}.{}", b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#), parts[1], parts[2]);
    for bad in [tampered.as_str(), unsigned.as_str(), hmac.as_str(), "not-a-jwt", ""] {
        let reply = t.get("/api/v1/persons", bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "token {bad:?}");
    }

    // A device token is for another audience.
    let person = t.enrol(&token).await;
    let device_token = t.device_token(&t.phone(&token, person).await).await;
    let device_token = device_token.body["access_token"].as_str().unwrap();
    assert_eq!(t.get("/api/v1/persons", device_token).await.status, StatusCode::UNAUTHORIZED);
    // And a staff token is not a device token.
    assert_eq!(t.get("/api/v1/me", &token).await.status, StatusCode::UNAUTHORIZED);

    t.app.test_clock.as_ref().unwrap().advance(chrono::Duration::hours(9));
    let expired = t.get("/api/v1/persons", &token).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"));
}

async fn a_password_change_ends_every_earlier_token(t: &TestApp) {
    let old = t.jiangan_officer().await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let weak = t.post("/api/v1/auth/password", &old, change(PASSWORD, "short")).await;
    assert_eq!((weak.status, weak.field()), (StatusCode::UNPROCESSABLE_ENTITY, "new_password"));
    let wrong = t.post("/api/v1/auth/password", &old, change("not my password", "a brand new passphrase")).await;
    assert_eq!((wrong.status, wrong.field()), (StatusCode::UNPROCESSABLE_ENTITY, "current_password"));
    assert_eq!(t.get("/api/v1/persons", &old).await.status, StatusCode::OK, "failed changes change nothing");

    let changed = t.post("/api/v1/auth/password", &old, change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let fresh = changed.body["access_token"].as_str().unwrap();
    assert_eq!(t.get("/api/v1/persons", &old).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get("/api/v1/persons", fresh).await.status, StatusCode::OK);
    assert_eq!(t.login("ja-county", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login("ja-county", "a brand new passphrase").await.status, StatusCode::OK);
}
