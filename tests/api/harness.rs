//! A fresh service per test, called in-process through its router.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use liandong::app::App;
use liandong::auth::{password, resolve_scope, Role, SigningKeys};
use liandong::geofence::Geofences;
use liandong::register::Office;
use liandong::settings::{ClockMode, Settings};
use liandong::store::{postgres, sqlite, NewUser, Store};
use liandong::units::Units;
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

/// Runs each named `async fn(&TestApp)` once per backend, as `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::harness::TestApp::sqlite().await;
                super::$name(&t).await;
                t.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(t) = $crate::harness::TestApp::postgres().await else {
                    eprintln!("skipped: set LIANDONG_TEST_POSTGRES_URL to run this test against PostgreSQL");
                    return;
                };
                super::$name(&t).await;
                t.finish().await;
            }
        }
    )* };
}

/// Where the test database lives, so that a second instance can open it too.
enum Location {
    Sqlite { url: String },
    Postgres { url: String, schema: String },
}

pub struct TestApp {
    pub app: Arc<App>,
    router: Router,
    location: Location,
    raw: Raw,
    data_dir: tempfile::TempDir,
}

/// Direct access to the database, for what no API may do (editing the log) and for counting.
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    /// The first column of every row of a query, as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    /// Runs a statement (for what no API may do).
    pub async fn execute(&self, sql: &str) {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
        }
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `field` of a problem answer.
    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or("")
    }

    pub fn is_problem(&self) -> bool {
        self.headers.get("content-type").is_some_and(|v| v == "application/problem+json")
    }
}

/// The boundaries, loaded once for every test of the process (it takes seconds unoptimised).
fn geofences() -> Arc<Geofences> {
    static ENGINE: std::sync::OnceLock<Arc<Geofences>> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Arc::new(Geofences::bundled(Arc::new(Units::bundled().unwrap())).unwrap())).clone()
}

fn test_settings() -> Settings {
    let mut settings = Settings { clock: ClockMode::Test, ..Settings::default() };
    // Short enough that the test of a revocation made elsewhere waits only a moment.
    settings.auth.status_cache_seconds = 1;
    // Random requests would make deadlines in other tests unpredictable; `instance_with` turns
    // them on where a test wants them.
    settings.policy.spot_checks_per_week = 0;
    // The receivers the webhook tests run (on loopback) and name.
    settings.oversight.webhook_hosts = vec!["127.0.0.1".into(), "sms.example.cn".into()];
    settings
}

/// Instances of one deployment share the signing key, as they share the data directory's key
/// file or the configured one.
async fn assemble(store: Arc<dyn Store>, keys_dir: &std::path::Path) -> (Arc<App>, Router) {
    assemble_with(store, keys_dir, test_settings()).await
}

async fn assemble_with(store: Arc<dyn Store>, keys_dir: &std::path::Path, settings: Settings) -> (Arc<App>, Router) {
    let keys = SigningKeys::load_or_generate(None, keys_dir).unwrap();
    let app = App::assemble(settings, store, keys, geofences()).unwrap();
    let router = liandong::http::router(app.clone());
    (app, router)
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/liandong.db", data_dir.path().display());
        let store = Arc::new(sqlite::Backend::open(url.parse().unwrap()).await.unwrap());
        let raw = Raw::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
        let (app, router) = assemble(store, data_dir.path()).await;
        TestApp { app, router, location: Location::Sqlite { url }, raw, data_dir }
    }

    pub async fn postgres() -> Option<TestApp> {
        let url = std::env::var("LIANDONG_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let schema = format!("liandong_test_{}", hex::encode(suffix));
        let admin = sqlx::PgPool::connect(&url).await.expect("LIANDONG_TEST_POSTGRES_URL must be reachable");
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
        admin.close().await;
        let options = pg_options(&url, &schema);
        let store = Arc::new(postgres::Backend::open(options.clone()).await.unwrap());
        let raw = Raw::Postgres(sqlx::PgPool::connect_with(options).await.unwrap());
        let data_dir = tempfile::tempdir().unwrap();
        let (app, router) = assemble(store, data_dir.path()).await;
        Some(TestApp { app, router, location: Location::Postgres { url, schema }, raw, data_dir })
    }

    /// Another service instance on the same database (as behind a load balancer).
    pub async fn second_instance(&self) -> (Arc<App>, Router) {
        self.instance_with(|_| {}).await
    }

    /// Another instance on the same database, with its settings changed by `change`.
    pub async fn instance_with(&self, change: impl FnOnce(&mut Settings)) -> (Arc<App>, Router) {
        let mut settings = test_settings();
        change(&mut settings);
        let store: Arc<dyn Store> = match &self.location {
            Location::Sqlite { url } => Arc::new(sqlite::Backend::open(url.parse().unwrap()).await.unwrap()),
            Location::Postgres { url, schema } => {
                Arc::new(postgres::Backend::open(pg_options(url, schema)).await.unwrap())
            }
        };
        assemble_with(store, self.data_dir.path(), settings).await
    }

    pub async fn finish(self) {
        self.app.store.close().await;
        match self.raw {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
        if let Location::Postgres { url, schema } = &self.location {
            let admin = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.unwrap();
            admin.close().await;
        }
    }

    pub fn raw(&self) -> &Raw {
        &self.raw
    }

    /// Counts the rows of a table.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
        }
    }

    pub async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        call(&self.router, method, uri, token, body, &[]).await
    }

    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    pub async fn post(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(token), Some(body)).await
    }

    /// Moves the test clock on through the API and runs the background jobs; answers what they did.
    pub async fn advance(&self, seconds: i64) -> Value {
        let body = json!({"advance_seconds": seconds});
        let reply = self.call(Method::POST, "/api/v1/test/clock", None, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["jobs"].clone()
    }

    /// Moves the test clock forward without running the background jobs.
    pub fn test_clock_advance(&self, seconds: i64) {
        self.app.test_clock.as_ref().unwrap().advance(chrono::Duration::seconds(seconds));
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Adds an office as an administrator would from the command line.
    pub async fn office(&self, id: &str, county: &str) {
        let office = Office::new(id, county, &format!("{id} 司法所"), &self.app.units).unwrap();
        self.app.store.create_office(&office, "cli", self.app.clock.now()).await.unwrap();
    }

    /// Creates a user as the command line does and logs in through the API.
    pub async fn user(&self, username: &str, role: Role, scope: &str) -> String {
        let office = self.app.store.office(scope).await.unwrap();
        let scope = resolve_scope(role, scope, office.as_ref(), &self.app.units).unwrap();
        let password_hash = password::hash(PASSWORD).unwrap();
        let user = NewUser { username: username.into(), password_hash, role, scope };
        self.app.store.create_user(&user, "cli", self.app.clock.now()).await.unwrap();
        self.login(username, PASSWORD).await.body["access_token"].as_str().expect("login").to_owned()
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": username, "password": password})))
            .await
    }

    /// Jiang'an office `ja` with a county officer; returns the officer's token.
    pub async fn jiangan_officer(&self) -> String {
        self.office("ja", "420102").await;
        self.user("ja-county", Role::CountyOfficer, "420102").await
    }

    /// A fresh token of the Jiang'an county officer made by `jiangan_officer`.
    pub async fn jiangan_token(&self) -> String {
        self.login("ja-county", PASSWORD).await.body["access_token"].as_str().expect("login").to_owned()
    }

    /// Enrols a probation person of office `ja` and returns their id.
    pub async fn enrol(&self, token: &str) -> i64 {
        let reply = self.post("/api/v1/persons", token, person_body("ja", "420102")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_i64().unwrap()
    }
}

impl TestApp {
    /// Enrols a phone for the person; the answer carries `device_id` and `device_key`.
    pub async fn phone(&self, officer: &str, person: i64) -> Value {
        let reply = self.post(&format!("/api/v1/persons/{person}/devices"), officer, json!({"kind": "phone"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Exchanges a device's id and key (as `phone` returned them) for a device token.
    pub async fn device_token(&self, device: &Value) -> Reply {
        let body = json!({"device_id": device["device_id"], "device_key": device["device_key"]});
        self.call(Method::POST, "/api/v1/auth/device", None, Some(body)).await
    }
}

/// A valid enrolment of a probation person.
pub fn person_body(office: &str, county: &str) -> Value {
    json!({
        "name": "张三",
        "category": "probation",
        "residence_adcode": county,
        "office": office,
        "judgment_effective_on": "2026-03-01",
        "supervision_ends_on": "2027-02-28",
    })
}

fn pg_options(url: &str, schema: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url).unwrap().options([("search_path", schema)])
}

pub async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply { status, headers, body }
}
