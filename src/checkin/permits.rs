//! Each person's travel permits (approved applications) as time windows over counties, cached
//! like the zones: an approval takes effect at once on the instance that made it and within the
//! cache's lifetime on the others.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::auth::StatusCache;
use crate::geofence::{CountyId, Extra, Geofences};
use crate::store::Store;
use crate::travel::TravelKind;
use crate::Result;

/// A permit in force over a window of local days.
#[derive(Debug, Clone)]
pub struct Permit {
    pub application_id: i64,
    pub kind: TravelKind,
    pub counties: Vec<CountyId>,
    /// Start of the first day and end of the last day, local time.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// End of the first day and start of the last day: on those days of a trip, fixes on the
    /// way are in transit.
    pub first_day_ends: DateTime<Utc>,
    pub last_day_starts: DateTime<Utc>,
    /// The end of the grace after a trip: being away after it is an overdue return.
    pub grace_ends: DateTime<Utc>,
}

impl Permit {
    pub fn extra(&self) -> Extra {
        Extra { counties: self.counties.clone(), from: self.from, until: self.until }
    }

    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.until
    }

    /// On the first or the last day of a trip.
    pub fn travel_day(&self, at: DateTime<Utc>) -> bool {
        self.kind == TravelKind::Trip && self.in_force(at) && (at < self.first_day_ends || at >= self.last_day_starts)
    }

    /// In the grace hours after a trip's end: still on the way back.
    pub fn in_grace(&self, at: DateTime<Utc>) -> bool {
        self.kind == TravelKind::Trip && self.until <= at && at < self.grace_ends
    }

    /// After a trip and its grace (within the days the cache keeps ended trips).
    pub fn overdue(&self, at: DateTime<Utc>) -> bool {
        self.kind == TravelKind::Trip && at >= self.grace_ends
    }
}

/// Midnight at the start of `day` in `tz` (the first hour that exists on a clock-change day).
pub fn local_midnight(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    (0..4)
        .filter_map(|h| day.and_hms_opt(h, 0, 0)?.and_local_timezone(tz).earliest())
        .map(|t| t.with_timezone(&Utc))
        .next()
        .unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// Days after a trip during which being away counts as an overdue return of that trip.
const OVERDUE_DAYS: u64 = 7;

pub struct PermitCache {
    entries: StatusCache<i64, Arc<Vec<Permit>>>,
}

impl PermitCache {
    pub fn new(ttl: Duration) -> Self {
        PermitCache { entries: StatusCache::new(ttl) }
    }

    /// The person's permits that have not ended before `today`.
    pub async fn get(
        &self,
        store: &dyn Store,
        engine: &Geofences,
        tz: chrono_tz::Tz,
        grace: chrono::Duration,
        person_id: i64,
        today: NaiveDate,
    ) -> Result<Arc<Vec<Permit>>> {
        if let Some(permits) = self.entries.get(&person_id) {
            return Ok(permits);
        }
        // Trips of the last week too: being away after one is an overdue return, not an absence.
        let since = today.checked_sub_days(Days::new(OVERDUE_DAYS)).unwrap_or(today);
        let mut permits = Vec::new();
        for application in store.person_permits(person_id, since).await? {
            let mut counties = Vec::new();
            for adcode in &application.destinations {
                // Validated when applied for; a unit that left the boundary data opens nothing.
                counties.extend(engine.expand("destinations", adcode).unwrap_or_default());
            }
            let next = |d: NaiveDate| d.checked_add_days(Days::new(1)).unwrap_or(d);
            permits.push(Permit {
                application_id: application.id,
                kind: application.kind,
                counties,
                from: local_midnight(application.starts_on, tz),
                until: local_midnight(next(application.ends_on), tz),
                first_day_ends: local_midnight(next(application.starts_on), tz),
                last_day_starts: local_midnight(application.ends_on, tz),
                grace_ends: local_midnight(next(application.ends_on), tz) + grace,
            });
        }
        let permits = Arc::new(permits);
        self.entries.put(person_id, permits.clone());
        Ok(permits)
    }

    /// Drops a person's entry (a decision about them was made here).
    pub fn forget(&self, person_id: i64) {
        self.entries.forget(&person_id);
    }
}
