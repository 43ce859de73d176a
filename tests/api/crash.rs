//! Durability: the real service process, killed with SIGKILL while phones upload, loses no fix it
//! acknowledged, and its oversight log still verifies.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

const PASSWORD: &str = "a long enough passphrase";

/// Where the killed service keeps its data.
struct Target<'a> {
    data_dir: &'a std::path::Path,
    /// A PostgreSQL database; the embedded SQLite one when absent.
    postgres: Option<&'a str>,
}

fn command(target: &Target) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_liandong"));
    c.env("LIANDONG_DATA_DIR", target.data_dir)
        .env("LIANDONG_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .env_remove("LIANDONG_DATABASE_URL")
        .env_remove("LIANDONG_CONFIG");
    if let Some(url) = target.postgres {
        c.env("LIANDONG_DATABASE_URL", url);
    }
    c
}

fn admin(target: &Target, args: &[&str], stdin: &str) {
    let mut child = command(target).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "liandong {args:?}");
}

/// Starts `liandong serve` and answers the process and its base URL.
fn serve(target: &Target) -> (Child, String) {
    let mut child = command(target).arg("serve").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the service says where it listens").unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect(&first).to_owned();
    // Keep draining stdout so that the service never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_loses_no_acknowledged_fix_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target { data_dir: dir.path(), postgres: None };
    let acknowledged = kill_under_load(&target).await;
    let url = format!("sqlite://{}/liandong.db", dir.path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT client_id FROM fixes").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_none_lost(&acknowledged, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_loses_no_acknowledged_fix_postgres() {
    let Some(url) = std::env::var("LIANDONG_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set LIANDONG_TEST_POSTGRES_URL to run this test against PostgreSQL");
        return;
    };
    // A database of its own: the service runs its migrations into it.
    let name = format!("liandong_crash_{}", std::process::id());
    let admin_pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&admin_pool).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin_pool).await.unwrap();
    let db_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("LIANDONG_TEST_POSTGRES_URL names no database"),
    };
    let dir = tempfile::tempdir().unwrap();
    let acknowledged = kill_under_load(&Target { data_dir: dir.path(), postgres: Some(&db_url) }).await;
    let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT client_id FROM fixes").fetch_all(&pool).await.unwrap();
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin_pool).await.unwrap();
    admin_pool.close().await;
    assert_none_lost(&acknowledged, stored);
}

fn assert_none_lost(acknowledged: &HashSet<String>, stored: Vec<String>) {
    let stored: HashSet<String> = stored.into_iter().collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged fixes lost, e.g. {:?}", lost.len(), lost.first());
}

/// Sets up an officer, a person and a phone, starts uploading from 16 phones' worth of clients,
/// kills the service with SIGKILL, and answers the fix ids it had acknowledged. Checks that the
/// oversight log still verifies.
async fn kill_under_load(target: &Target<'_>) -> HashSet<String> {
    admin(target, &["office", "add", "--id", "ja", "--county", "420102", "--name", "大智街司法所"], "");
    admin(
        target,
        &["user", "add", "--username", "officer", "--role", "county_officer", "--scope", "420102"],
        &format!("{PASSWORD}\n"),
    );
    let (mut server, base) = serve(target);
    let client = reqwest::Client::new();
    let (_, login) =
        post(&client, &format!("{base}/api/v1/auth/login"), None, json!({"username": "officer", "password": PASSWORD}))
            .await;
    let officer = login["access_token"].as_str().expect("login").to_owned();
    let person = json!({
        "name": "张三", "category": "probation", "residence_adcode": "420102", "office": "ja",
        "judgment_effective_on": "2026-03-01", "supervision_ends_on": "2027-02-28",
    });
    let (_, person) = post(&client, &format!("{base}/api/v1/persons"), Some(&officer), person).await;
    let path = format!("{base}/api/v1/persons/{}/devices", person["id"]);
    let (_, device) = post(&client, &path, Some(&officer), json!({"kind": "phone"})).await;
    let body = json!({"device_id": device["device_id"], "device_key": device["device_key"]});
    let (_, token) = post(&client, &format!("{base}/api/v1/auth/device"), None, body).await;
    let token = token["access_token"].as_str().expect("device token").to_owned();

    // 16 phones' worth of uploads in flight, each fix id kept once the service says 200.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let mut uploaders = Vec::new();
    for worker in 0..16 {
        let (client, token, acknowledged) = (client.clone(), token.clone(), acknowledged.clone());
        let url = format!("{base}/api/v1/checkins");
        uploaders.push(tokio::spawn(async move {
            for n in 0.. {
                let id = format!("w{worker}-{n}");
                let at = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
                let fix = json!({"id": id, "at": at, "lon": 114.30, "lat": 30.62, "accuracy_m": 10.0});
                match post(&client, &url, Some(&token), json!({"fixes": [fix]})).await {
                    (200, _) => {
                        acknowledged.lock().unwrap().insert(id);
                    }
                    (0, _) => return,
                    (status, body) => panic!("{status}: {body}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    server.wait().unwrap();
    for u in uploaders {
        u.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 50, "the service took uploads before it was killed: {}", acknowledged.len());

    let verify = command(target).args(["oversight", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    acknowledged
}
