//! The background scheduler: random spot checks, lost contact, missed check-ins and registrations, acknowledgement
//! and opinion-reply deadlines, monitoring-order expiry and the retention purges, on the service's `Clock`. Several instances may share one
//! PostgreSQL: the holder of the database lease runs the jobs, the others wait for it to lapse.

use std::sync::Arc;
use std::time::Duration;

use chrono::Days;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::checkin::local_midnight;
use crate::geofence::Placement;
use crate::supervision::{next_spot_check, Evidence, EvidenceFix};
use crate::Result;

/// The lease every job runs under.
const LEASE: &str = "scheduler";
/// How long the record of each webhook delivery attempt is kept.
const WEBHOOK_ATTEMPT_DAYS: i64 = 30;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Report {
    pub spot_checks: usize,
    pub lost_contact: usize,
    pub missed_checkins: usize,
    pub missed_registrations: usize,
    pub missed_acknowledgements: usize,
    pub overdue_returns: usize,
    /// Persons found inside a zone as it came into force.
    pub zone_entries: usize,
    pub expiring_orders: usize,
    pub expired_orders: usize,
    /// Opinions whose reply deadline passed unanswered.
    pub overdue_opinions: usize,
    pub purged_fixes: usize,
    pub purged_webhook_attempts: usize,
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    u64::from_le_bytes(bytes)
}

/// This instance's identity as a lease holder.
pub fn holder() -> String {
    format!("instance-{:016x}", random_u64())
}

/// Runs every job once if this instance holds (or can take) the lease; `None` when another
/// instance holds it.
pub async fn run_once(app: &App) -> Result<Option<Report>> {
    let now = app.clock.now();
    let ttl = chrono::Duration::seconds(i64::from(app.settings.scheduler_seconds) * 3);
    if !app.store.take_lease(LEASE, &app.instance, now, ttl).await? {
        return Ok(None);
    }
    let policy = &app.settings.policy;
    let today = app.today();
    let retention_start = today.checked_sub_days(Days::new(policy.fix_retention_days.into())).unwrap_or(today);
    let (expiring_orders, expired_orders) =
        run("monitoring orders", app.store.watch_monitoring_orders(now, policy).await);
    let spot_checks = if policy.spot_checks_per_week == 0 {
        0
    } else {
        let deadline = now + chrono::Duration::minutes(policy.checkin_answer_minutes.into());
        let (tz, per_week) = (app.tz, policy.spot_checks_per_week);
        let next = move || next_spot_check(now, tz, per_week, random_u64());
        run("spot checks", app.store.run_spot_checks(now, deadline, &next).await)
    };
    let report = Report {
        spot_checks,
        zone_entries: run("zones", rejudge_zones(app).await),
        expiring_orders,
        expired_orders,
        lost_contact: run("lost contact", app.store.raise_lost_contact(now, policy).await),
        missed_checkins: run("missed check-ins", app.store.raise_missed_checkins(now, policy).await),
        missed_registrations: run(
            "missed registrations",
            app.store.raise_missed_registrations(today, app.tz, now, policy).await,
        ),
        missed_acknowledgements: run("acknowledgements", app.store.mark_missed_acknowledgements(now).await),
        overdue_returns: run("overdue returns", overdue_returns(app).await),
        overdue_opinions: run("opinion deadlines", app.store.mark_overdue_opinions(now).await),
        purged_fixes: run("retention purge", app.store.purge_fixes(retention_start, now).await),
        purged_webhook_attempts: run(
            "webhook attempts purge",
            app.store.purge_webhook_attempts(now - chrono::Duration::days(WEBHOOK_ATTEMPT_DAYS)).await,
        ),
    };
    if report != Report::default() {
        tracing::info!(?report, "scheduled jobs");
    }
    metrics::counter!("scheduler_runs_total").increment(1);
    Ok(Some(report))
}

/// One job's outcome: a failing job is logged and retried at the next run; it never keeps the
/// others from running (nothing it half-did was committed).
fn run<T: Default>(job: &'static str, outcome: Result<T>) -> T {
    outcome.unwrap_or_else(|e| {
        tracing::error!(job, error = %e, "scheduled job failed");
        metrics::counter!("scheduler_job_failures_total", "job" => job).increment(1);
        T::default()
    })
}

/// A person last seen away on a trip that (with its grace) has ended is overdue: re-judged when
/// the permit ends, not only at their next fix.
async fn overdue_returns(app: &App) -> Result<usize> {
    let (now, today) = (app.clock.now(), app.today());
    let grace = chrono::Duration::hours(app.settings.policy.return_grace_hours.into());
    let from = today.checked_sub_days(Days::new(7)).unwrap_or(today);
    let mut raised = 0;
    for trip in app.store.ended_trips(from, today).await? {
        let grace_ends = local_midnight(trip.ends_on + Days::new(1), app.tz) + grace;
        if grace_ends > now {
            continue;
        }
        // Last seen during or after the trip, outside the residence area: still away.
        let home = app.geofences.allowed_area(&trip.residence_adcode)?;
        let away = app.store.last_position(trip.person_id).await?.is_some_and(|p| {
            p.at >= local_midnight(trip.starts_on, app.tz)
                && p.adcode
                    .as_deref()
                    .and_then(|a| app.geofences.county_id(a))
                    .is_some_and(|c| !home.contains_county(c))
        });
        if away {
            let (id, person, policy) = (trip.application_id, trip.person_id, &app.settings.policy);
            raised += usize::from(app.store.raise_overdue_return(id, person, grace_ends, now, policy).await?);
        }
    }
    Ok(raised)
}

/// Judges each zone that came into force against its person's last position: a person who does
/// not move is inside a zone drawn around them as soon as it applies. Runs right after a zone is
/// drawn and on each tick (for zones that start later).
pub async fn rejudge_zones(app: &App) -> Result<usize> {
    let now = app.clock.now();
    let recent = chrono::Duration::hours(app.settings.policy.phone_lost_contact_hours.into());
    let mut raised = 0;
    for (person, zones) in app.store.zones_coming_into_force(now).await? {
        app.zones.forget(person);
        let index = app.zones.get(app.store.as_ref(), person).await?;
        let position = app.store.last_position(person).await?.filter(|p| now - p.at < recent);
        let entry = position.and_then(|p| {
            let hits: Vec<_> = index
                .check(person, p.lon, p.lat, p.accuracy_m, now)
                .into_iter()
                .filter(|h| h.placement == Placement::Inside && zones.contains(&h.zone_id))
                .collect();
            let deepest = hits.iter().map(|h| h.distance_m).fold(f64::INFINITY, f64::min);
            (!hits.is_empty()).then(|| Evidence {
                fixes: vec![EvidenceFix {
                    id: p.id,
                    at: p.at,
                    place: p.adcode.as_deref().and_then(|a| app.units.name(a)).map(str::to_owned),
                    adcode: p.adcode,
                    distance_m: (deepest * 10.0).round() / 10.0,
                    accuracy_m: p.accuracy_m,
                }],
                zones: hits.iter().map(|h| h.zone_id).collect(),
                detail: Some("inside the zone when it came into force".into()),
                ..Evidence::default()
            })
        });
        let policy = &app.settings.policy;
        raised += usize::from(app.store.record_rejudged_zones(person, &zones, entry.as_ref(), now, policy).await?);
    }
    Ok(raised)
}

/// Runs the jobs every `scheduler_seconds` until the process ends. A failed run is logged and
/// retried at the next tick: nothing it half-did was committed.
pub fn spawn(app: Arc<App>) {
    let every = Duration::from_secs(app.settings.scheduler_seconds.into());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&app).await {
                tracing::error!(error = %e, "scheduled jobs failed");
            }
        }
    });
}
