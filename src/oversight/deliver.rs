//! The webhook deliverer: a background task on every instance that pushes each subscription's
//! events, in `seq` order, at least once. It reads the committed log, so ingest never waits for
//! a receiver; a slow or failing receiver holds up only its own subscription, which retries the
//! same event with exponential backoff until it is taken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

use super::webhook::{backoff, signature, url_allowed, Delivery, Progress};
use super::{Event, Jurisdiction, WebhookAttempt};
use crate::app::App;
use crate::auth::Scope;
use crate::Result;

/// Events fetched per page of a subscription.
const PAGE: i64 = 100;
/// How long a claim holds a subscription; a run gives it back after half of it at most, and a
/// crashed instance's claims lapse after it.
const CLAIM: Duration = Duration::from_secs(120);
/// Subscriptions one instance delivers at once: each holds a database connection at times.
const PARALLEL: usize = 8;

/// The body of each POST.
#[derive(Serialize)]
struct Payload<'a> {
    webhook_id: i64,
    event: &'a Event,
}

pub fn client(app: &App) -> anyhow::Result<reqwest::Client> {
    let timeout = Duration::from_secs(app.settings.oversight.webhook_timeout_seconds.into());
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("liandong/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Looks for owed events every `oversight.webhook_poll_millis` until the service stops; each
/// claimed subscription is delivered by a task of its own.
pub fn spawn(app: Arc<App>) -> anyhow::Result<()> {
    let client = client(&app)?;
    let every = Duration::from_millis(app.settings.oversight.webhook_poll_millis.into());
    let slots = Arc::new(Semaphore::new(PARALLEL));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = app.stopped() => break,
            }
            // Claim only what a free slot can deliver now; the rest waits for another instance
            // or the next tick.
            let free = slots.available_permits();
            if free == 0 {
                continue;
            }
            match claim(&app, free).await {
                Ok(claimed) => {
                    for delivery in claimed {
                        let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                        let (app, client) = (app.clone(), client.clone());
                        tokio::spawn(async move {
                            deliver(app, client, delivery).await;
                            drop(slot);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook claim failed"),
            }
        }
    });
    Ok(())
}

/// Claims up to `limit` subscriptions under a token of their own: a later claim of the same
/// subscription (after this one lapsed) makes this run's progress no longer count.
async fn claim(app: &App, limit: usize) -> Result<Vec<Delivery>> {
    let now = app.clock.now();
    let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
    let mut token = [0u8; 8];
    getrandom::fill(&mut token).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let claim = format!("{}/{}", app.instance, hex::encode(token));
    app.store.claim_webhooks(&claim, until, now, limit as i64).await
}

/// One round, awaited to the end: claims what is due and delivers it. Answers the number of
/// events delivered (tests and tools; the service runs rounds through `spawn`).
pub async fn deliver_due(app: &Arc<App>, client: &reqwest::Client) -> Result<usize> {
    let tasks: Vec<_> = claim(app, PARALLEL)
        .await?
        .into_iter()
        .map(|d| tokio::spawn(deliver(app.clone(), client.clone(), d)))
        .collect();
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await.map_err(anyhow::Error::from)?;
    }
    Ok(delivered)
}

/// Delivers a claimed subscription's owed events until they run out, the receiver fails, or
/// half the claim has passed; then gives the claim back.
async fn deliver(app: Arc<App>, client: reqwest::Client, d: Delivery) -> usize {
    let delivered = match run(&app, &client, &d).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(webhook = d.id, error = %e, "webhook delivery stopped");
            0
        }
    };
    if let Err(e) = app.store.webhook_progress(&d, &Progress::Released).await {
        tracing::warn!(webhook = d.id, error = %e, "webhook release failed; the claim will lapse");
    }
    delivered
}

async fn run(app: &App, client: &reqwest::Client, d: &Delivery) -> Result<usize> {
    let scope = match d.scope_kind.as_str() {
        "office" => Jurisdiction::Office(d.scope.clone()),
        "county" => Jurisdiction::of_scope(&Scope::County(d.scope.clone()), &app.units)?,
        _ => Jurisdiction::of_scope(&Scope::City(d.scope.clone()), &app.units)?,
    };
    let started = Instant::now();
    let (mut cursor, mut delivered) = (d.cursor, 0);
    loop {
        let page = app.store.log_page(&scope, &d.kinds, cursor, PAGE).await?;
        for event in &page.events {
            if started.elapsed() > CLAIM / 2 {
                return Ok(delivered);
            }
            let attempt = post(app, client, d, event).await;
            if attempt.error.is_some() {
                // Failures in a row: a success earlier in this run started the count again.
                let failures = if delivered > 0 { 1 } else { d.failures + 1 };
                let next = attempt.at + backoff(failures, app.settings.oversight.webhook_max_backoff_seconds);
                metrics::counter!("webhook_failures_total").increment(1);
                app.store.webhook_progress(d, &Progress::Failed(attempt, next)).await?;
                return Ok(delivered);
            }
            if !app.store.webhook_progress(d, &Progress::Delivered(attempt)).await? {
                return Ok(delivered);
            }
            metrics::counter!("webhook_deliveries_total").increment(1);
            (cursor, delivered) = (event.seq, delivered + 1);
        }
        if page.events.len() < PAGE as usize {
            // The rest of the log up to its end holds nothing for this subscription.
            if page.next > cursor {
                app.store.webhook_progress(d, &Progress::PassedTo(page.next)).await?;
            }
            return Ok(delivered);
        }
    }
}

/// One POST of one event; a 2xx answer is success, anything else (or no answer) a failure. A
/// host the operator no longer allows gets nothing: the attempt fails until it is allowed again.
async fn post(app: &App, client: &reqwest::Client, d: &Delivery, event: &Event) -> WebhookAttempt {
    let at = app.clock.now();
    if !url_allowed(&d.url, &app.settings.oversight.webhook_hosts) {
        let error = Some("the receiver's host is no longer allowed (setting oversight.webhook_hosts)".into());
        return WebhookAttempt { seq: event.seq, at, status: None, error, duration_ms: 0 };
    }
    let body = serde_json::to_vec(&Payload { webhook_id: d.id, event }).unwrap_or_default();
    let started = Instant::now();
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Liandong-Signature", signature(&d.secret, at.timestamp(), &body))
        .header("Liandong-Webhook-Id", d.id)
        .header("Liandong-Event-Seq", event.seq)
        .body(body)
        .send()
        .await;
    let (status, error) = match sent {
        Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16().into()), None),
        Ok(answer) => {
            (Some(answer.status().as_u16().into()), Some(format!("the receiver answered {}", answer.status())))
        }
        // Named by kind, never with the URL: its path or query may carry the receiver's token.
        Err(e) if e.is_timeout() => {
            (None, Some("no answer in time (setting oversight.webhook_timeout_seconds)".into()))
        }
        Err(e) if e.is_connect() => (None, Some("could not connect to the receiver".into())),
        Err(e) => (None, Some(format!("sending failed: {}", e.without_url()))),
    };
    let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    WebhookAttempt { seq: event.seq, at, status, error, duration_ms }
}
