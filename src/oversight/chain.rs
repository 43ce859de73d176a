//! The per-county hash chain and its verification.
//!
//! Canonical encoding (published so that the procuratorate can write its own verifier): the
//! SHA-256 of these fields, each followed by one line feed (0x0A), in UTF-8:
//! `prev_hash`, `seq` (decimal), `at` (RFC 3339, UTC, exactly six fractional digits, `Z`),
//! `county`, `kind`, `person_id` (decimal, or empty), `actor`, `data` (JSON, object keys sorted
//! by code point, no white space). `hash` is its lower-case hex. The first event of a county
//! follows [`GENESIS`].

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Event;

/// The `prev_hash` of the first event in each county chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A time as the encoding writes it: RFC 3339, UTC, six fractional digits, `Z`.
pub fn hashed_time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn event_hash(e: &Event) -> String {
    let mut h = Sha256::new();
    let at = hashed_time(&e.at);
    let seq = e.seq.to_string();
    let person = e.person_id.map(|p| p.to_string()).unwrap_or_default();
    for field in [&e.prev_hash, &seq, &at, &e.county, &e.kind, &person, &e.actor, &e.data] {
        h.update(field.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// JSON with object keys sorted at every depth and no white space, whatever features of
/// serde_json other crates switch on.
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<&String, serde_json::Value> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // With serde_json's preserve_order feature a Map keeps insertion order, which `sorted` made
    // the sorted order; without it a Map is a BTreeMap. Either way the text is sorted.
    sorted(v).to_string()
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Broken {
    pub seq: i64,
    pub county: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Counties whose chain was checked, with the hash at its head.
    pub heads: BTreeMap<String, String>,
    /// None when every chain holds.
    pub first_broken: Option<Broken>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Checks events in `seq` order. With `gapless`, the events must be the whole log (every `seq`
/// from `first_seq` on), so that a removed event is detected even at the end of a chain.
pub struct Verifier {
    report: VerifyReport,
    next_seq: Option<i64>,
}

impl Verifier {
    pub fn new(first_seq: Option<i64>) -> Self {
        Verifier { report: VerifyReport::default(), next_seq: first_seq }
    }

    /// Feeds the next event; returns false once a link is broken (later events are not checked).
    pub fn push(&mut self, e: &Event) -> bool {
        if self.report.first_broken.is_some() {
            return false;
        }
        let broken = |reason: String| Broken { seq: e.seq, county: e.county.clone(), reason };
        let expected_prev = self.report.heads.get(&e.county).map(String::as_str).unwrap_or(GENESIS);
        let failure = if let Some(next) = self.next_seq.filter(|n| *n != e.seq) {
            Some(broken(format!("expected event {next}, found {}: events are missing or out of order", e.seq)))
        } else if e.prev_hash != expected_prev {
            Some(broken("prev_hash does not match the previous event of this county".into()))
        } else if event_hash(e) != e.hash {
            Some(broken("hash does not match the event's content: the event was altered".into()))
        } else {
            None
        };
        if let Some(b) = failure {
            self.report.first_broken = Some(b);
            return false;
        }
        self.report.events += 1;
        self.report.heads.insert(e.county.clone(), e.hash.clone());
        self.next_seq = self.next_seq.map(|_| e.seq + 1);
        true
    }

    /// Ends verification of a log whose last handed-out `seq` is `head`: events missing at the
    /// end break it too.
    pub fn finish_at(mut self, head: i64) -> VerifyReport {
        if let (None, Some(next)) = (&self.report.first_broken, self.next_seq) {
            if next <= head {
                let reason = format!("events {next} to {head} are missing from the end of the log");
                self.report.first_broken = Some(Broken { seq: next, county: String::new(), reason });
            }
        }
        self.report
    }

    pub fn finish(self) -> VerifyReport {
        self.report
    }
}

/// Verifies a complete log given in `seq` order starting at 1.
pub fn verify<'a>(events: impl IntoIterator<Item = &'a Event>) -> VerifyReport {
    let mut v = Verifier::new(Some(1));
    for e in events {
        if !v.push(e) {
            break;
        }
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::oversight::{EventKind, NewEvent};

    fn log() -> Vec<Event> {
        let at: DateTime<Utc> = "2026-03-01T08:00:00.123456Z".parse().unwrap();
        let mut heads: BTreeMap<String, String> = BTreeMap::new();
        let mut events = Vec::new();
        for (seq, county) in [(1, "420102"), (2, "420106"), (3, "420102"), (4, "420102")] {
            let new =
                NewEvent::new(EventKind::PersonEnrolled, county, "user:1", json!({"z": 1, "a": {"y": 2, "b": 3}}));
            let prev = heads.get(county).cloned().unwrap_or_else(|| GENESIS.into());
            let e = Event::seal(&new, seq, at, &prev);
            heads.insert(county.into(), e.hash.clone());
            events.push(e);
        }
        events
    }

    #[test]
    fn data_is_canonical_whatever_the_key_order() {
        assert_eq!(canonical_json(&json!({"b": [ {"d": 1, "c": 2} ], "a": null})), r#"{"a":null,"b":[{"c":2,"d":1}]}"#);
    }

    #[test]
    fn the_hash_follows_the_published_encoding() {
        let e = &log()[0];
        let text = format!(
            "{GENESIS}\n1\n2026-03-01T08:00:00.123456Z\n420102\nperson.enrolled\n\nuser:1\n{}\n",
            r#"{"a":{"b":3,"y":2},"z":1}"#
        );
        assert_eq!(e.hash, hex::encode(Sha256::digest(text.as_bytes())));
    }

    #[test]
    fn an_event_is_shown_with_its_time_as_hashed() {
        let mut e = log()[0].clone();
        e.at = "2026-03-01T08:00:00Z".parse().unwrap();
        let shown = serde_json::to_value(&e).unwrap();
        assert_eq!(shown["at"], "2026-03-01T08:00:00.000000Z");
    }

    #[test]
    fn an_intact_log_verifies_with_one_head_per_county() {
        let report = verify(&log());
        assert!(report.ok(), "{:?}", report.first_broken);
        assert_eq!((report.events, report.heads.len()), (4, 2));
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut events = log();
        events[2].data = r#"{"a":{"b":3,"y":2},"z":2}"#.into();
        let broken = verify(&events).first_broken.unwrap();
        assert_eq!((broken.seq, broken.county.as_str()), (3, "420102"));
        assert!(broken.reason.contains("altered"));
    }

    #[test]
    fn events_removed_from_the_end_are_missed_only_without_the_head() {
        let mut events = log();
        events.pop();
        let mut v = Verifier::new(Some(1));
        events.iter().for_each(|e| {
            v.push(e);
        });
        let broken = v.finish_at(4).first_broken.unwrap();
        assert_eq!(broken.seq, 4);
        assert!(broken.reason.contains("missing"));
    }

    #[test]
    fn a_removed_or_rehashed_event_breaks_the_chain() {
        let mut events = log();
        events.remove(1);
        assert_eq!(verify(&events).first_broken.unwrap().seq, 3, "gap in seq");
        let mut events = log();
        // A forger who edits an event and recomputes its own hash still breaks the next link.
        events[2].actor = "user:9".into();
        events[2].hash = event_hash(&events[2]);
        let broken = verify(&events).first_broken.unwrap();
        assert_eq!(broken.seq, 4);
        assert!(broken.reason.contains("prev_hash"));
    }
}
