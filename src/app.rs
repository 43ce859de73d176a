//! The running service's shared parts, built once from the settings: store, administrative
//! units, authentication, clock, time zone and metrics.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use chrono::NaiveDate;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::auth::{Auth, DeviceActor, SigningKeys, StatusCache};
use crate::checkin::{Ingest, PermitCache, ZoneCache};
use crate::clock::{Clock, SystemClock, TestClock};
use crate::geofence::Geofences;
use crate::register::Person;
use crate::settings::{ClockMode, Settings};
use crate::store::{self, Store};
use crate::units::Units;
use crate::{Error, Result};

pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub units: Arc<Units>,
    pub auth: Auth,
    pub clock: Arc<dyn Clock>,
    /// Present only when the settings ask for the test clock.
    pub test_clock: Option<TestClock>,
    pub tz: chrono_tz::Tz,
    pub metrics: PrometheusHandle,
    /// Real boundaries: where fixes are, and where persons may be.
    pub geofences: Arc<Geofences>,
    /// The group-committing check-in writer.
    pub ingest: Ingest,
    /// Each person's exclusion zones, compiled for the engine.
    pub zones: ZoneCache,
    /// Each person's travel permits, as windows over counties.
    pub permits: PermitCache,
    /// This instance's name as a holder of the scheduler's lease.
    pub instance: String,
    /// Turns true when the service begins to stop: long-lived streams and the webhook deliverer
    /// end, so that the graceful shutdown does not wait on them.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The person each device reports for, so that an upload costs no read of the register.
    device_persons: StatusCache<i64, Arc<Person>>,
}

impl App {
    /// Opens the database (running migrations) and loads everything the service needs.
    pub async fn open(settings: Settings) -> anyhow::Result<Arc<App>> {
        let store = store::open(&settings.database_url()).await.context("opening the database")?;
        let keys = SigningKeys::load_or_generate(settings.auth.signing_key_file.as_deref(), &settings.data_dir)?;
        let units = Arc::new(Units::load(settings.units_file.as_deref())?);
        let geofences =
            tokio::task::spawn_blocking(move || Geofences::bundled(units)).await.context("loading boundaries")??;
        Self::assemble(settings, store, keys, Arc::new(geofences))
    }

    /// Builds the service around an already open store and loaded boundaries (tests share one
    /// engine between many instances). Must run inside the Tokio runtime: it starts the writer.
    pub fn assemble(
        settings: Settings,
        store: Arc<dyn Store>,
        keys: SigningKeys,
        geofences: Arc<Geofences>,
    ) -> anyhow::Result<Arc<App>> {
        let units = geofences.units().clone();
        let tz = settings.tz()?;
        let (clock, test_clock): (Arc<dyn Clock>, _) = match settings.clock {
            ClockMode::System => (Arc::new(SystemClock), None),
            ClockMode::Test => {
                let clock = TestClock::starting_at(chrono::Utc::now());
                (Arc::new(clock.clone()), Some(clock))
            }
        };
        let auth = Auth::new(keys, store.clone(), clock.clone(), settings.auth.clone());
        let ingest = Ingest::start(store.clone(), settings.policy.clone(), settings.ingest_queue);
        let metrics = prometheus();
        // A zone drawn on another instance applies here as soon as a revocation would.
        let cache_ttl = std::time::Duration::from_secs(settings.auth.status_cache_seconds.into());
        let zones = ZoneCache::new(cache_ttl);
        Ok(Arc::new(App {
            settings,
            store,
            units,
            auth,
            clock,
            test_clock,
            tz,
            metrics,
            geofences,
            ingest,
            zones,
            permits: PermitCache::new(cache_ttl),
            instance: crate::scheduler::holder(),
            stopping: tokio::sync::watch::Sender::new(false),
            device_persons: StatusCache::new(cache_ttl),
        }))
    }

    /// The person a device reports for: from the cache (as fresh as the device's own status), or
    /// the register. A revoked device has none.
    pub async fn device_person(&self, device: &DeviceActor) -> Result<Arc<Person>> {
        if let Some(person) = self.device_persons.get(&device.device_id) {
            return Ok(person);
        }
        let person =
            self.store.device_person(device).await?.ok_or(Error::Unauthorized("the device has been revoked"))?;
        let person = Arc::new(person);
        self.device_persons.put(device.device_id, person.clone());
        Ok(person)
    }

    /// Makes a device's revocation effective on this instance at once.
    pub fn forget_device(&self, device_id: i64) {
        self.auth.forget_device(device_id);
        self.device_persons.forget(&device_id);
    }

    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once `stop` was called.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Today in the configured time zone: the day that date rules count in.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().with_timezone(&self.tz).date_naive()
    }
}

/// The process-wide Prometheus recorder (a process can install only one).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new().install_recorder().unwrap_or_else(|_| {
                // Another recorder is installed (an embedding program's): render our own, empty one.
                PrometheusBuilder::new().build_recorder().handle()
            })
        })
        .clone()
}
