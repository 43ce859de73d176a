//! Each person's exclusion zones as an engine index, cached per person so that an upload costs
//! no zone query. A new zone takes effect at once on the instance that stored it and within the
//! cache's lifetime on the others.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::StatusCache;
use crate::geofence::{Zone, ZoneIndex, ZoneShape};
use crate::store::Store;
use crate::Result;

pub struct ZoneCache {
    entries: StatusCache<i64, Arc<ZoneIndex>>,
}

impl ZoneCache {
    pub fn new(ttl: Duration) -> Self {
        ZoneCache { entries: StatusCache::new(ttl) }
    }

    /// The zones of `person_id`, from the cache or the store.
    pub async fn get(&self, store: &dyn Store, person_id: i64) -> Result<Arc<ZoneIndex>> {
        if let Some(index) = self.entries.get(&person_id) {
            return Ok(index);
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
        self.entries.put(person_id, index.clone());
        Ok(index)
    }

    /// Drops a person's entry (their zones changed here).
    pub fn forget(&self, person_id: i64) {
        self.entries.forget(&person_id);
    }
}
