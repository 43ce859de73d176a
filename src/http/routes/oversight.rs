//! The procuratorate's feed: pages of the log, the live stream, chain verification and the
//! summary, each confined to the caller's jurisdiction.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::Json;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::http::extract::{AppQuery, Staff, StaffToken};
use crate::http::problem::Problem;
use crate::oversight::{verify_log, Event, Jurisdiction, LogPage, Summary, VerifyReport};

/// Largest page of events.
const MAX_LIMIT: i64 = 1000;
/// Events a stream fetches at a time.
const STREAM_PAGE: i64 = 500;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// The `seq` to read after: 0 (the default) from the start, or the `next` of the last page.
    pub after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
}

fn check_after(after: i64, field: &str) -> Result<i64, Problem> {
    if after < 0 {
        return Err(Problem::malformed(Some(field.into()), format!("{field}: must not be negative")));
    }
    Ok(after)
}

/// The events of the caller's jurisdiction after `after`, in `seq` order. `next` is where the
/// following page (or the stream) starts; it passes over other jurisdictions' events.
#[utoipa::path(get, path = "/api/v1/oversight/events", tag = "oversight", params(EventQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = LogPage),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn events(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<EventQuery>,
) -> Result<Json<LogPage>, Problem> {
    let after = check_after(q.after.unwrap_or(0), "after")?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::malformed(Some("limit".into()), format!("limit: must be between 1 and {MAX_LIMIT}")));
    }
    let scope = Jurisdiction::for_reader(&actor, &app.units)?;
    Ok(Json(app.store.log_page(&scope, &[], after, limit).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Where to start when no `Last-Event-ID` header is sent: the `next` of a page.
    pub after: Option<i64>,
}

/// The same events as Server-Sent Events, live: each event's `id` is its `seq` and its data the
/// event as in a page. Resumes after `Last-Event-ID` (or `after`; by default the end of the log).
/// A comment line `: heartbeat` keeps a quiet stream open; the stream ends when the token does.
#[utoipa::path(get, path = "/api/v1/oversight/stream", tag = "oversight", params(StreamQuery,
    ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    security(("bearer" = [])), responses(
    (status = 200, description = "text/event-stream of events", content_type = "text/event-stream"),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn stream(
    State(app): State<Arc<App>>,
    StaffToken(actor, token): StaffToken,
    headers: HeaderMap,
    AppQuery(q): AppQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>, Problem> {
    let scope = Jurisdiction::for_reader(&actor, &app.units)?;
    let head = app.store.log_head().await?;
    let (start, field) = match headers.get("last-event-id") {
        Some(value) => {
            let id = value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
                Problem::malformed(Some("Last-Event-ID".into()), "Last-Event-ID: must be the seq of an event")
            })?;
            (id, "Last-Event-ID")
        }
        None => (q.after.unwrap_or(head), "after"),
    };
    check_after(start, field)?;
    if start > head {
        return Err(crate::Error::invalid(field, format!("no event {start}: the log ends at {head}")).into());
    }
    let heartbeat = Duration::from_secs(app.settings.oversight.heartbeat_seconds.into());
    let state = Tail { app, token, scope, cursor: start, ready: VecDeque::new() };
    let events = futures_util::stream::unfold(state, |mut tail| async move {
        let event = tail.next().await?;
        let data = serde_json::to_string(&event).unwrap_or_default();
        Some((Ok(sse::Event::default().id(event.seq.to_string()).data(data)), tail))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")))
}

/// The reading end of a stream: pages of the jurisdiction after `cursor`, polled.
struct Tail {
    app: Arc<App>,
    token: String,
    scope: Jurisdiction,
    cursor: i64,
    ready: VecDeque<Event>,
}

impl Tail {
    /// The next event; None when the stream should end (token expired or revoked, service
    /// stopping, database failing: the client resumes from its last id).
    async fn next(&mut self) -> Option<Event> {
        let poll = Duration::from_millis(self.app.settings.oversight.stream_poll_millis.into());
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            self.app.auth.staff(&self.token).await.ok()?;
            let page = match self.app.store.log_page(&self.scope, &[], self.cursor, STREAM_PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "oversight stream ends on a read failure");
                    return None;
                }
            };
            self.cursor = page.next;
            if page.events.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = self.app.stopped() => return None,
                }
            }
            self.ready.extend(page.events);
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// One county chain of the jurisdiction; by default every chain in it.
    pub county: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Verification {
    /// Every chain checked holds, and no event of the log is missing.
    pub intact: bool,
    #[serde(flatten)]
    pub report: VerifyReport,
}

/// Checks each county chain of the jurisdiction link by link (hash and `prev_hash`), and that no
/// event of the whole log is missing; names the first broken link.
#[utoipa::path(get, path = "/api/v1/oversight/verify", tag = "oversight", params(VerifyQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = Verification),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
pub async fn verify(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<VerifyQuery>,
) -> Result<Json<Verification>, Problem> {
    let mut scope = Jurisdiction::for_reader(&actor, &app.units)?;
    if let Some(county) = &q.county {
        scope = scope.only(county).map_err(|e| Problem::from(e).with_field("county"))?;
    }
    let report = verify_log(app.store.as_ref(), Some(&scope)).await?;
    Ok(Json(Verification { intact: report.ok(), report }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// The period, in days up to now, that late acknowledgements and decisions are counted
    /// over: 1–366 (default 7, the week).
    pub days: Option<i64>,
}

/// What an oversight procurator asks every Monday, for the caller's scope (officers may ask it
/// of theirs): unresolved alerts by age and kind, late acknowledgements, decisions by level,
/// pending consultations and unanswered opinions.
#[utoipa::path(get, path = "/api/v1/oversight/summary", tag = "oversight", params(SummaryQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = Summary),
    (status = 400, body = Problem, content_type = "application/problem+json"),
))]
pub async fn summary(
    State(app): State<Arc<App>>,
    Staff(actor): Staff,
    AppQuery(q): AppQuery<SummaryQuery>,
) -> Result<Json<Summary>, Problem> {
    let days = q.days.unwrap_or(7);
    if !(1..=366).contains(&days) {
        return Err(Problem::malformed(Some("days".into()), "days: must be between 1 and 366"));
    }
    let now = app.clock.now();
    Ok(Json(app.store.summary(&actor, now - chrono::Duration::days(days), now).await?))
}
