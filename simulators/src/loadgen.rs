//! Load generator for a running liandong: drives the case register and the authentication paths
//! the way an office full of officers and a fleet of phones would, and reports throughput and
//! latency per phase. Talks only to the address it is given (keep it on loopback or a test host).
//!
//! ```text
//! printf '%s\n' "$PASSWORD" | liandong-loadgen --username officer1 --office ja-dazhi --persons 500
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Semaphore;

#[derive(Parser)]
#[command(about = "Drive a running liandong with enrolments, device key exchanges and phone reads")]
struct Args {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An officer allowed to enrol into `--office`; the password is read from standard input.
    #[arg(long)]
    username: String,
    /// The judicial office to enrol into.
    #[arg(long)]
    office: String,
    /// Its county (the residence of the enrolled persons).
    #[arg(long, default_value = "420102")]
    county: String,
    /// How many persons (each with one phone) to enrol.
    #[arg(long, default_value_t = 200)]
    persons: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// `GET /api/v1/me` calls per phone.
    #[arg(long, default_value_t = 20)]
    reads: usize,
    /// Single-fix check-in uploads per phone.
    #[arg(long, default_value_t = 20)]
    checkins: usize,
    /// Uploads of 100 fixes per phone.
    #[arg(long, default_value_t = 2)]
    batches: usize,
    /// A procurator (same password) whose reads of the oversight feed are measured after the
    /// other phases: pages of 100 events from random positions, the summary, verification.
    #[arg(long)]
    procurator: Option<String>,
    /// Feed pages to read.
    #[arg(long, default_value_t = 2000)]
    pages: usize,
}

/// A fix inside Jiang'an at a distinct time, so that every upload stores new fixes.
fn fix(id: String, seconds_ago: i64) -> Value {
    let at = std::time::SystemTime::now() - Duration::from_secs(seconds_ago as u64);
    let at = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    json!({"id": id, "at": rfc3339(at), "lon": 114.30, "lat": 30.62, "accuracy_m": 12.0, "crs": "wgs84"})
}

/// RFC 3339 in UTC for Unix seconds (civil-from-days, so that no date crate is needed).
fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// One phase's outcome.
struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Phase {
    fn print(&self) {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| l.get(((l.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
        let rate = l.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<16} {:>7} ok {:>5} errors {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
            self.name,
            l.len(),
            self.errors,
            rate,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

/// Runs `make(i)` for `0..n` with at most `concurrency` in flight; collects what each returns.
async fn phase<F, Fut>(name: &'static str, n: usize, concurrency: usize, make: F) -> (Phase, Vec<Value>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        let fut = make(i);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let out = fut.await;
            drop(permit);
            (t.elapsed(), out)
        }));
    }
    let (mut latencies, mut values, mut errors) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        match task.await {
            Ok((took, Ok(v))) => {
                latencies.push(took);
                values.push(v);
            }
            Ok((_, Err(e))) => {
                if errors == 0 {
                    eprintln!("{name}: first error: {e:#}");
                }
                errors += 1;
            }
            Err(e) => {
                eprintln!("{name}: task failed: {e}");
                errors += 1;
            }
        }
    }
    (Phase { name, latencies, errors, elapsed: started.elapsed() }, values)
}

async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {}", body["detail"]);
    }
    Ok(body)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut password = String::new();
    tokio::io::BufReader::new(tokio::io::stdin()).read_line(&mut password).await.context("reading the password")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let base = args.base.trim_end_matches('/').to_owned();

    let login = json!({"username": args.username, "password": password});
    let token = send(http.post(format!("{base}/api/v1/auth/login")).json(&login)).await.context("login")?;
    let token = token["access_token"].as_str().context("no access_token")?.to_owned();

    let run = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let (enrol, persons) = phase("enrol person", args.persons, args.concurrency, |i| {
        let body = json!({
            "name": format!("load {i}"),
            "category": "probation",
            "residence_adcode": args.county,
            "office": args.office,
            "judgment_effective_on": "2026-03-01",
            "supervision_ends_on": "2027-02-28",
        });
        let request = http
            .post(format!("{base}/api/v1/persons"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("loadgen-{run}-{i}"))
            .json(&body);
        send(request)
    })
    .await;
    enrol.print();

    let ids: Vec<i64> = persons.iter().filter_map(|p| p["id"].as_i64()).collect();
    let (devices, keys) = phase("enrol device", ids.len(), args.concurrency, |i| {
        let request = http
            .post(format!("{base}/api/v1/persons/{}/devices", ids[i]))
            .bearer_auth(&token)
            .json(&json!({"kind": "phone"}));
        send(request)
    })
    .await;
    devices.print();

    let (exchange, tokens) = phase("device token", keys.len(), args.concurrency, |i| {
        let body = json!({"device_id": keys[i]["device_id"], "device_key": keys[i]["device_key"]});
        send(http.post(format!("{base}/api/v1/auth/device")).json(&body))
    })
    .await;
    exchange.print();

    let tokens: Vec<String> = tokens.iter().filter_map(|t| t["access_token"].as_str().map(str::to_owned)).collect();
    let reads = tokens.len() * args.reads;
    let (me, _) = phase("phone GET /me", reads, args.concurrency, |i| {
        send(http.get(format!("{base}/api/v1/me")).bearer_auth(&tokens[i % tokens.len()]))
    })
    .await;
    me.print();

    let singles = tokens.len() * args.checkins;
    let (single, _) = phase("check-in 1 fix", singles, args.concurrency, |i| {
        let body = json!({"fixes": [fix(format!("{run}-s{i}"), (i / tokens.len()) as i64 + 1)]});
        send(http.post(format!("{base}/api/v1/checkins")).bearer_auth(&tokens[i % tokens.len()]).json(&body))
    })
    .await;
    single.print();

    let uploads = tokens.len() * args.batches;
    let (batch, _) = phase("check-in 100", uploads, args.concurrency, |i| {
        let fixes: Vec<Value> = (0..100).map(|k| fix(format!("{run}-b{i}-{k}"), 100_000 + k)).collect();
        send(
            http.post(format!("{base}/api/v1/checkins"))
                .bearer_auth(&tokens[i % tokens.len()])
                .json(&json!({"fixes": fixes})),
        )
    })
    .await;
    batch.print();
    println!("(check-in 100: fixes per second = 100 × req/s)");

    if let Some(procurator) = &args.procurator {
        let login = json!({"username": procurator, "password": password});
        let token = send(http.post(format!("{base}/api/v1/auth/login")).json(&login)).await.context("procurator")?;
        let token = token["access_token"].as_str().context("no access_token")?.to_owned();
        let first = send(http.get(format!("{base}/api/v1/oversight/events?limit=1")).bearer_auth(&token)).await?;
        let head = first["head"].as_i64().unwrap_or(0).max(1);
        let (pages, _) = phase("feed page 100", args.pages, args.concurrency, |i| {
            // Spread over the whole log, the same positions on every run.
            let after = (i as i64 * 7_919) % head;
            send(http.get(format!("{base}/api/v1/oversight/events?after={after}&limit=100")).bearer_auth(&token))
        })
        .await;
        pages.print();
        let (summary, _) =
            phase("summary", 50, 4, |_| send(http.get(format!("{base}/api/v1/oversight/summary")).bearer_auth(&token)))
                .await;
        summary.print();
        let (verify, reports) = phase("verify chains", 3, 1, |_| {
            send(http.get(format!("{base}/api/v1/oversight/verify")).bearer_auth(&token))
        })
        .await;
        verify.print();
        if let Some(report) = reports.first() {
            println!("(verify: {} events, intact: {})", report["events"], report["intact"]);
        }
    }
    Ok(())
}
