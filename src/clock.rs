//! The one source of "now". Production reads the system clock; tests and the scenario runner use
//! a clock they can set and advance, so a 10-day deadline can be exercised in seconds. The test
//! clock exists only when a setting asks for it explicitly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, Utc};

pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to whole microseconds: what both databases store exactly, so that a value
    /// read back hashes the same as the value written.
    fn now(&self) -> DateTime<Utc>;
}

/// A time as both databases store it: whole microseconds.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    to_micros(t)
}

fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::microseconds(1)).unwrap_or(t)
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// A clock that stands still until told to move.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn starting_at(t: DateTime<Utc>) -> Self {
        TestClock(Arc::new(Mutex::new(to_micros(t))))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to_micros(t);
    }

    /// Moves forward; a move beyond the representable range leaves the clock where it is.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(later) = now.checked_add_signed(by) {
            *now = to_micros(later);
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456789Z").unwrap().to_utc();
        let clock = TestClock::starting_at(start);
        assert_eq!(clock.now().timestamp_subsec_nanos(), 123_456_000, "truncated to microseconds");
        assert_eq!(clock.now(), clock.now());
        clock.advance(Duration::days(10));
        assert_eq!(clock.now().date_naive().to_string(), "2026-01-11");
    }
}
