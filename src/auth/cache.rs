//! A short-lived cache of account and device status, so that a token's holder is not looked up
//! in the database on every request. Entries live `ttl` at most: that is the longest a disabled
//! user or a revoked device keeps working on an instance that did not make the change (the
//! instance that makes it forgets the entry at once).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct StatusCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

/// Beyond this many entries, expired ones are swept on insert so memory stays bounded by the
/// number of principals active within one `ttl`.
const SWEEP_ABOVE: usize = 4096;

impl<K: Eq + Hash + Clone, V: Clone> StatusCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        StatusCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.get_by(key)
    }

    /// Looks up by a borrowed form of the key (`&str` for `String` keys).
    pub fn get_by<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > SWEEP_ABOVE {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn forget(&self, key: &K) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = StatusCache::new(Duration::from_millis(30));
        cache.put(1, "active");
        assert_eq!(cache.get(&1), Some("active"));
        cache.forget(&1);
        assert_eq!(cache.get(&1), None);
        cache.put(2, "active");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&2), None, "an expired entry is not served");
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = StatusCache::new(Duration::ZERO);
        cache.put(1, "active");
        assert_eq!(cache.get(&1), None);
    }
}
