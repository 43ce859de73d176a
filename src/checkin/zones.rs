//! Each person's exclusion zones as an engine index, cached per person so that an upload costs
//! no zone query. A new zone takes effect at once on the instance that stored it and within the
//! cache's lifetime on the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::geofence::{Zone, ZoneIndex, ZoneShape};
use crate::store::Store;
use crate::Result;

/// More cached persons than this and the cache starts over (a bound, not an LRU: reloading a
/// person's zones is one indexed query).
const MAX_PERSONS: usize = 200_000;

pub struct ZoneCache {
    ttl: Duration,
    entries: Mutex<HashMap<i64, (Instant, Arc<ZoneIndex>)>>,
}

impl ZoneCache {
    pub fn new(ttl: Duration) -> Self {
        ZoneCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The zones of `person_id`, from the cache or the store.
    pub async fn get(&self, store: &dyn Store, person_id: i64) -> Result<Arc<ZoneIndex>> {
        if let Some((loaded, index)) = self.lock().get(&person_id) {
            if loaded.elapsed() < self.ttl {
                return Ok(index.clone());
            }
        }
        let zones = store.person_zones(person_id).await?;
        let compiled = zones
            .into_iter()
            .filter_map(|z| match ZoneShape::parse(&z.geometry, z.radius_m, z.crs) {
                Ok(shape) => {
                    Some(Zone { id: z.id, person_id, shape, valid_from: z.valid_from, valid_until: z.valid_until })
                }
                Err(e) => {
                    // Validated when drawn; a zone that no longer parses is a data problem to fix,
                    // not a reason to refuse the person's fixes.
                    tracing::error!(zone = z.id, error = %e, "a stored exclusion zone does not parse");
                    None
                }
            })
            .collect();
        let index = Arc::new(ZoneIndex::new(compiled));
        let mut entries = self.lock();
        if entries.len() >= MAX_PERSONS {
            entries.clear();
        }
        entries.insert(person_id, (Instant::now(), index.clone()));
        Ok(index)
    }

    /// Drops a person's entry (their zones changed here).
    pub fn forget(&self, person_id: i64) {
        self.lock().remove(&person_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (Instant, Arc<ZoneIndex>)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
