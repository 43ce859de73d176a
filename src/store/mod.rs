//! Storage behind one `Store` trait, with a SQLite (embedded default) and a PostgreSQL
//! implementation chosen by the database URL's scheme.
//!
//! The SQL is portable (`$N` parameters, `RETURNING`, `ON CONFLICT` work in both), so each query
//! file under `sql/` is compiled once per backend as a child module of `sqlite` and `postgres`;
//! each backend supplies only its pools, its connection settings and its migrations.
//!
//! Every method that touches case data takes the `Actor` and applies its scope in the query
//! itself: handlers cannot forget to.

mod model;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

pub use model::*;

use crate::auth::{Actor, DeviceActor, DeviceKind};
use crate::checkin::{Batch, Stored};
use crate::oversight::webhook::{Delivery, Progress};
use crate::oversight::{
    Event, EventKind, Jurisdiction, LogPage, NewWebhook, OpinionFilter, OpinionRequest, OversightOpinion, Reply,
    Summary, Webhook,
};
use crate::register::{NewPerson, Office, Person, PersonFilter, Zone, ZoneRequest};
use crate::settings::Policy;
use crate::supervision::{
    Alert, AlertFilter, CheckinRequest, Disposition, Ending, Evidence, Lifting, MonitoringOrder,
    MonitoringOrderRequest, Renewal, Sanction, SanctionRequest, SilentPeriod,
};
use crate::travel::{
    Application, ApplicationFilter, Consultation, ConsultationRequest, Hearing, HearingRequest, NewApplication,
    Opinion, OtherTrip, TripReport,
};
use crate::Result;

/// Offices, staff accounts and login throttling.
#[async_trait]
pub trait AccountStore {
    /// Adds an office; adding the same office again is a no-op, a different one with the same id
    /// a conflict.
    async fn create_office(&self, office: &Office, by: &str, at: DateTime<Utc>) -> Result<Office>;
    async fn office(&self, id: &str) -> Result<Option<Office>>;
    async fn create_user(&self, user: &NewUser, by: &str, at: DateTime<Utc>) -> Result<Account>;
    /// How many staff users exist (start-up tells a fresh install how to create the first).
    async fn user_count(&self) -> Result<i64>;
    async fn account_by_name(&self, username: &str) -> Result<Option<Account>>;
    async fn account(&self, id: i64) -> Result<Option<Account>>;
    /// Replaces the password hash and ends every token issued before.
    async fn set_password(&self, id: i64, hash: &str, by: &str, at: DateTime<Utc>) -> Result<()>;
    /// Disables a user; their tokens stop working.
    async fn disable_user(&self, username: &str, by: &str, at: DateTime<Utc>) -> Result<Account>;
    /// Counts a login attempt before the password is checked (so that concurrent guesses cannot
    /// outrun the count), locking the name once `lock` says so; refused while a lock lasts.
    async fn login_attempt(&self, username: &str, lock: &dyn LockRule, at: DateTime<Utc>) -> Result<LoginAttempt>;
    /// A successful login: the attempts counted for the name are forgotten.
    async fn clear_login_failures(&self, username: &str) -> Result<()>;
}

/// Phones and tags.
#[async_trait]
pub trait DeviceStore {
    /// Enrols a device for a person in the actor's scope; `key_hash` is the SHA-256 of its key.
    async fn enrol_device(
        &self,
        actor: &Actor,
        person_id: i64,
        kind: DeviceKind,
        key_hash: &str,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Device>>;
    async fn revoke_device(&self, actor: &Actor, person_id: i64, device_id: i64, at: DateTime<Utc>) -> Result<Device>;
    async fn devices(&self, actor: &Actor, person_id: i64) -> Result<Vec<Device>>;
    /// A device for authentication (not scoped: the key or token is the credential).
    async fn device_credentials(&self, device_id: i64) -> Result<Option<DeviceCredentials>>;
    /// A device by the SHA-256 of its key (clients that send only the key, as OsmAnd does).
    async fn device_by_key_hash(&self, key_hash: &str) -> Result<Option<DeviceCredentials>>;
}

/// The case register.
#[async_trait]
pub trait CaseStore {
    async fn enrol_person(
        &self,
        actor: &Actor,
        person: &NewPerson,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Person>>;
    /// A person in the actor's scope; `None` whether the person is elsewhere or nowhere.
    async fn person(&self, actor: &Actor, id: i64) -> Result<Option<Person>>;
    /// The person a device reports for: the only person a device may see.
    async fn device_person(&self, device: &DeviceActor) -> Result<Option<Person>>;
    async fn persons(&self, actor: &Actor, filter: &PersonFilter, today: NaiveDate) -> Result<Vec<Person>>;
    /// Records registration (报到) on `on`; recording the same day again changes nothing.
    async fn record_registration(&self, actor: &Actor, id: i64, on: NaiveDate, at: DateTime<Utc>) -> Result<Person>;
}

/// Exclusion zones.
#[async_trait]
pub trait ZoneStore {
    /// Adds a zone (validated by the caller) for a person in the actor's scope.
    async fn create_zone(
        &self,
        actor: &Actor,
        person_id: i64,
        zone: &ZoneRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Zone>>;
    /// A person's zones, oldest first.
    async fn zones(&self, actor: &Actor, person_id: i64) -> Result<Vec<Zone>>;
    /// A person's zones for the engine, unscoped: only for the person's own device's fixes and
    /// the supervision jobs, never for an answer to a user.
    async fn person_zones(&self, person_id: i64) -> Result<Vec<Zone>>;
    /// Zones not yet judged against their person's last position and now in force, by person.
    async fn zones_coming_into_force(&self, now: DateTime<Utc>) -> Result<Vec<(i64, Vec<i64>)>>;
    /// Marks `zones` as judged and, with `entry`, raises `exclusion_zone_entry` unless one runs.
    async fn record_rejudged_zones(
        &self,
        person_id: i64,
        zones: &[i64],
        entry: Option<&Evidence>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<bool>;
}

/// Position fixes.
#[async_trait]
pub trait FixStore {
    /// Stores uploads in one transaction (one sync), with everything the new fixes caused
    /// (state, alerts, events); answers per upload, in order.
    async fn store_fixes(&self, batches: &[Batch], policy: &Policy) -> Result<Vec<Stored>>;
    /// The person's newest fix, in WGS-84 (for the engine only, never for an answer).
    async fn last_position(&self, person_id: i64) -> Result<Option<LastPosition>>;
}

/// Alerts, scoped like the persons they are about.
#[async_trait]
pub trait AlertStore {
    /// Newest first.
    async fn alerts(&self, actor: &Actor, filter: &AlertFilter) -> Result<Vec<Alert>>;
    /// Acknowledging again answers with the alert as it is; a resolved alert is a conflict.
    async fn acknowledge_alert(&self, actor: &Actor, id: i64, note: Option<&str>, at: DateTime<Utc>) -> Result<Alert>;
    /// Resolving again with the same disposition and note answers with the alert as it is.
    async fn resolve_alert(
        &self,
        actor: &Actor,
        id: i64,
        disposition: Disposition,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Alert>;
    async fn suppress_alert(
        &self,
        actor: &Actor,
        id: i64,
        reason: &str,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Alert>;
}

/// What officers do around the loop, scoped like the persons it is about.
#[async_trait]
pub trait CaseworkStore {
    async fn request_checkin(
        &self,
        actor: &Actor,
        person_id: i64,
        deadline: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<CheckinRequest>;
    /// Newest first: answered, missed and pending.
    async fn checkin_requests(&self, actor: &Actor, person_id: i64) -> Result<Vec<CheckinRequest>>;
    /// The requests a device's person has still to answer.
    async fn pending_checkin_requests(&self, device: &DeviceActor) -> Result<Vec<CheckinRequest>>;
    async fn record_sanction(
        &self,
        actor: &Actor,
        person_id: i64,
        sanction: &SanctionRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Sanction>>;
    async fn sanctions(&self, actor: &Actor, person_id: i64) -> Result<Vec<Sanction>>;
    /// The person's periods without any fix, newest first (at most 100).
    async fn silent_periods(&self, actor: &Actor, person_id: i64) -> Result<Vec<SilentPeriod>>;
    /// Ends supervision: state `ended`, devices revoked, running episodes ended, no more alerts.
    /// Ending again the same way is harmless.
    async fn end_supervision(&self, actor: &Actor, person_id: i64, ending: &Ending, at: DateTime<Utc>) -> Result<()>;
}

/// Monitoring orders (电子定位装置), decided by the county head in scope.
#[async_trait]
pub trait MonitoringStore {
    async fn create_order(
        &self,
        actor: &Actor,
        person_id: i64,
        request: &MonitoringOrderRequest,
        at: DateTime<Utc>,
    ) -> Result<MonitoringOrder>;
    async fn orders(&self, actor: &Actor, person_id: i64, now: DateTime<Utc>) -> Result<Vec<MonitoringOrder>>;
    async fn renew_order(
        &self,
        actor: &Actor,
        person_id: i64,
        id: i64,
        renewal: &Renewal,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<MonitoringOrder>;
    /// Lifting again with the same reason answers with the order as it is.
    async fn lift_order(
        &self,
        actor: &Actor,
        person_id: i64,
        id: i64,
        lifting: &Lifting,
        at: DateTime<Utc>,
    ) -> Result<MonitoringOrder>;
    /// Raises `monitoring_order_expiring` for orders ending soon and expires those that ended:
    /// answers (warned, expired).
    async fn watch_monitoring_orders(&self, now: DateTime<Utc>, policy: &Policy) -> Result<(usize, usize)>;
}

/// Travel applications and the permits they become.
#[async_trait]
pub trait TravelStore {
    /// The person's pending and approved trips ending on or after `since` (for the rules).
    async fn other_trips(&self, person_id: i64, since: NaiveDate) -> Result<Vec<OtherTrip>>;
    /// Stores a routed application: an officer's for a person in scope, or (no actor) a phone's
    /// for its own person.
    async fn submit_application(
        &self,
        actor: Option<&Actor>,
        new: &NewApplication,
        at: DateTime<Utc>,
    ) -> Result<Application>;
    /// Newest first, in scope.
    async fn applications(&self, actor: &Actor, filter: &ApplicationFilter) -> Result<Vec<Application>>;
    /// One application in scope.
    async fn application(&self, actor: &Actor, id: i64) -> Result<Application>;
    /// A phone's person's pending and approved applications.
    async fn device_applications(&self, device: &DeviceActor) -> Result<Vec<Application>>;
    /// Cancels a pending application (by an officer in scope, or by the person's device);
    /// cancelling again answers with it as it is.
    async fn cancel_application(
        &self,
        actor: Option<&Actor>,
        device: Option<&DeviceActor>,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Application>;
    /// Records the person's arrival or return on an approved trip (the person's device, or an
    /// officer in scope); the first report stands.
    async fn report_trip(
        &self,
        actor: Option<&Actor>,
        device: Option<&DeviceActor>,
        id: i64,
        report: TripReport,
        at: DateTime<Utc>,
    ) -> Result<Application>;
    /// Approves or rejects a pending application: an officer in scope of at least the level the
    /// rules require (403 below it).
    async fn decide_application(
        &self,
        actor: &Actor,
        id: i64,
        approve: bool,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Application>;
    /// Approved applications of a person ending on or after `since`, unscoped: for judging the
    /// person's own fixes only.
    async fn person_permits(&self, person_id: i64, since: NaiveDate) -> Result<Vec<Application>>;
}

/// Consultations with the procuratorate and hearings, before a decision.
#[async_trait]
pub trait StepsStore {
    /// An officer in scope asks the person's procuratorate for an opinion on a pending application.
    async fn ask_consultation(
        &self,
        actor: &Actor,
        application_id: i64,
        request: &ConsultationRequest,
        at: DateTime<Utc>,
    ) -> Result<Consultation>;
    /// A procurator whose jurisdiction covers the person answers; answering again the same way is
    /// harmless, differently a conflict.
    async fn give_opinion(&self, actor: &Actor, id: i64, opinion: &Opinion, at: DateTime<Utc>) -> Result<Consultation>;
    async fn consultations(&self, actor: &Actor, application_id: i64, now: DateTime<Utc>) -> Result<Vec<Consultation>>;
    async fn schedule_hearing(
        &self,
        actor: &Actor,
        application_id: i64,
        request: &HearingRequest,
        at: DateTime<Utc>,
    ) -> Result<Hearing>;
    /// Records the outcome of the latest hearing still without one.
    async fn record_hearing(
        &self,
        actor: &Actor,
        application_id: i64,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<Hearing>;
    async fn hearings(&self, actor: &Actor, application_id: i64) -> Result<Vec<Hearing>>;
}

/// The scheduler's jobs (each safe to run twice, or on two instances at once).
#[async_trait]
pub trait JobStore {
    /// Takes or renews the lease on `job` for `holder` until `now + ttl`; false while another
    /// holder's lease lasts.
    async fn take_lease(&self, job: &str, holder: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> Result<bool>;
    /// `lost_contact` for each active device silent beyond its kind's interval.
    async fn raise_lost_contact(&self, now: DateTime<Utc>, policy: &Policy) -> Result<usize>;
    /// `missed_checkin` for each check-in request past its deadline.
    async fn raise_missed_checkins(&self, now: DateTime<Utc>, policy: &Policy) -> Result<usize>;
    /// `missed_registration` (漏管) for each person past their registration day.
    async fn raise_missed_registrations(
        &self,
        today: NaiveDate,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<usize>;
    /// Asks the persons whose random spot check is due to check in by `deadline`, and schedules
    /// each one's next check with `next` (persons not yet scheduled are only scheduled).
    async fn run_spot_checks(
        &self,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        next: &(dyn Fn() -> Option<DateTime<Utc>> + Send + Sync),
    ) -> Result<usize>;
    /// Approved trips that ended between `from` and `to` (local days) with no overdue return
    /// raised.
    async fn ended_trips(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<EndedTrip>>;
    /// Raises `overdue_return` for a trip whose person is still away (as of their last fix);
    /// false when it was raised already.
    async fn raise_overdue_return(
        &self,
        application_id: i64,
        person_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<bool>;
    /// Marks open alerts past their acknowledgement deadline, each an event.
    async fn mark_missed_acknowledgements(&self, now: DateTime<Utc>) -> Result<usize>;
    /// Deletes the fixes of persons whose supervision ended before `ended_before`, except alert
    /// evidence.
    async fn purge_fixes(&self, ended_before: NaiveDate, now: DateTime<Utc>) -> Result<usize>;
}

/// Track reads, each recorded in the oversight log.
#[async_trait]
pub trait TrackStore {
    /// A page of a person in the actor's scope's fixes, in position-time order; records the read.
    async fn read_track(&self, actor: &Actor, query: &TrackQuery, at: DateTime<Utc>) -> Result<Vec<TrackFix>>;
}

/// The oversight log. Appending happens inside the other methods' transactions.
#[async_trait]
pub trait LogStore {
    /// Events with `seq > after` in order, at most `limit`, unfiltered (operators' verification).
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<Event>>;
    /// The last `seq` handed out: a log whose newest events were removed ends before it.
    async fn log_head(&self) -> Result<i64>;
    /// Events of one jurisdiction with `seq > after` (and of `kinds`, if any) in order, at most
    /// `limit`; `after` beyond the end of the log is refused.
    async fn log_page(&self, scope: &Jurisdiction, kinds: &[EventKind], after: i64, limit: i64) -> Result<LogPage>;
    /// The first `seq` up to `head` with no event: counts only, so any jurisdiction may ask.
    async fn first_missing_seq(&self, head: i64) -> Result<Option<i64>>;
}

/// The procuratorate's opinions and the agency's replies.
#[async_trait]
pub trait OpinionStore {
    /// A procurator's opinion on a person, alert or application in its jurisdiction.
    async fn issue_opinion(
        &self,
        actor: &Actor,
        request: &OpinionRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<OversightOpinion>>;
    async fn opinions(
        &self,
        actor: &Actor,
        filter: &OpinionFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<OversightOpinion>>;
    async fn opinion(&self, actor: &Actor, id: i64, now: DateTime<Utc>) -> Result<OversightOpinion>;
    /// The agency's written reply, by a county or city officer whose scope covers the person.
    async fn reply_to_opinion(
        &self,
        actor: &Actor,
        id: i64,
        reply: &Reply,
        at: DateTime<Utc>,
    ) -> Result<OversightOpinion>;
    /// Records each unanswered opinion past its deadline, once, as an event.
    async fn mark_overdue_opinions(&self, now: DateTime<Utc>) -> Result<usize>;
}

#[async_trait]
pub trait SummaryStore {
    /// The oversight summary of the actor's scope; periodic counts cover `since` to `now`.
    async fn summary(&self, actor: &Actor, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Summary>;
}

/// Webhook subscriptions, each of the actor's own agency and scope.
#[async_trait]
pub trait WebhookStore {
    /// Subscribes the actor's scope; `after` beyond the end of the log is refused.
    async fn create_webhook(
        &self,
        actor: &Actor,
        new: &NewWebhook,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Webhook>>;
    async fn webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>>;
    /// One subscription with its latest delivery attempts.
    async fn webhook(&self, actor: &Actor, id: i64) -> Result<Webhook>;
    async fn delete_webhook(&self, actor: &Actor, id: i64, at: DateTime<Utc>) -> Result<Webhook>;
}

/// The webhook deliverer's claims and progress.
#[async_trait]
pub trait DeliveryStore {
    /// Claims, as `claim` until `until`, up to `limit` live subscriptions with events owed and no
    /// retry pending; one claim at a time per subscription.
    async fn claim_webhooks(
        &self,
        claim: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// Records a delivery's progress; false when its claim no longer holds (it lapsed and was
    /// taken again, or the subscription was deleted).
    async fn webhook_progress(&self, delivery: &Delivery, progress: &Progress) -> Result<bool>;
    async fn purge_webhook_attempts(&self, before: DateTime<Utc>) -> Result<usize>;
}

/// The storage the service runs on.
#[async_trait]
pub trait Store:
    AccountStore
    + DeviceStore
    + CaseStore
    + ZoneStore
    + FixStore
    + AlertStore
    + CaseworkStore
    + MonitoringStore
    + TravelStore
    + StepsStore
    + JobStore
    + TrackStore
    + LogStore
    + OpinionStore
    + SummaryStore
    + WebhookStore
    + DeliveryStore
    + Send
    + Sync
    + 'static
{
    /// The database answers.
    async fn ping(&self) -> Result<()>;
    async fn close(&self);
}

/// Opens the database named by `url` and brings its schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::Backend::open(url.parse()?).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::Backend::open(url.parse()?).await?))
    } else {
        Err(crate::Error::invalid("database_url", "must start with sqlite: or postgres://"))
    }
}
