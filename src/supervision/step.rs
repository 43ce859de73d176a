//! The state machine: a person's new fixes, in position-time order, against their tracking and
//! open episodes.
//!
//! Fixes newer than the newest judged one drive the state. Older ones (a backlog that arrived
//! after newer fixes) never change the state and never end or reopen an episode: they can only
//! prove a past absence, which the store turns into one retrospective alert if nothing covers it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{AlertKind, Effect, Evidence, Observation, OutsideRun, PermitUse, Tracking, MAX_EVIDENCE_FIXES};
use crate::geofence::Placement;
use crate::register::SupervisionState;
use crate::settings::Policy;

/// What one upload did to a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub tracking: Tracking,
    pub effects: Vec<Effect>,
    /// Gaps between fixes longer than `policy.unreachable_warn_hours`: (last fix, next fix).
    pub silences: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Judges `observations` (any order) for a person whose judgement stands at `tracking` and whose
/// running episodes carry `open` evidence.
pub fn step(
    tracking: &Tracking,
    open: &HashMap<AlertKind, Evidence>,
    observations: &[Observation],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Step {
    let mut sorted: Vec<&Observation> = observations.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let newest = tracking.last_fix_at;
    let (late, live): (Vec<&Observation>, Vec<&Observation>) =
        sorted.into_iter().partition(|o| newest.is_some_and(|n| o.at <= n));
    let mut m = Machine { tracking: tracking.clone(), open: open.clone(), effects: Vec::new(), policy, now };
    let mut silences = Vec::new();
    let silent = Duration::hours(policy.unreachable_warn_hours.into());
    for o in live {
        if let Some(before) = m.tracking.last_fix_at.filter(|&b| o.at - b > silent) {
            silences.push((before, o.at));
        }
        m.live(o);
    }
    m.late(&late);
    Step { tracking: m.tracking, effects: m.effects, silences }
}

struct Machine<'a> {
    tracking: Tracking,
    open: HashMap<AlertKind, Evidence>,
    effects: Vec<Effect>,
    policy: &'a Policy,
    now: DateTime<Utc>,
}

impl Machine<'_> {
    fn live(&mut self, o: &Observation) {
        self.tracking.last_fix_at = Some(o.at);
        // Any fix is contact again; lost contact ends when the silent device speaks.
        self.end(AlertKind::MissedCheckin, o.at);
        self.contact(o);
        let state = self.tracking.state;
        match (o.placement, o.permit) {
            (Placement::Inside, at_destination) => {
                let permitted = matches!(at_destination, Some(PermitUse::AtDestination { .. }));
                let state = if permitted { SupervisionState::AwayPermitted } else { SupervisionState::Inside };
                self.tracking.state = Some(state);
                self.tracking.outside = OutsideRun::default();
                self.end(AlertKind::UnapprovedAbsence, o.at);
                if !permitted {
                    self.end(AlertKind::OverdueReturn, o.at);
                }
            }
            // On the way on a trip's first or last day: neither absence nor its evidence.
            (Placement::Outside, Some(PermitUse::InTransit { .. })) => {
                self.tracking.state = Some(SupervisionState::InTransit);
                self.tracking.outside = OutsideRun::default();
            }
            // Neither evidence of absence nor of return.
            (Placement::Uncertain, _) => {
                if !matches!(state, Some(SupervisionState::Absent | SupervisionState::Suspected)) {
                    self.tracking.state = Some(SupervisionState::Uncertain);
                }
            }
            (Placement::Outside, _) => self.outside(o),
        }
        self.zones(o);
    }

    /// Lost contact ends when the silent device reports a fix from after its silence began, even
    /// one older than another device's newest (a tag uploading what it buffered).
    fn contact(&mut self, o: &Observation) {
        let silent = self
            .open
            .get(&AlertKind::LostContact)
            .is_some_and(|e| e.device_id.is_none_or(|d| d == o.device_id) && e.since.is_none_or(|since| o.at > since));
        if silent {
            self.end(AlertKind::LostContact, o.at);
        }
    }

    fn outside(&mut self, o: &Observation) {
        // Still away after a trip: the episode is an overdue return, which replaces an absence.
        let overdue = matches!(o.permit, Some(PermitUse::Overdue { .. }));
        let kind = if overdue { AlertKind::OverdueReturn } else { AlertKind::UnapprovedAbsence };
        for running in [AlertKind::OverdueReturn, AlertKind::UnapprovedAbsence] {
            if let Some(evidence) = self.open.get(&running) {
                self.tracking.state = Some(SupervisionState::Absent);
                if let Some(more) = with_new_place(evidence, o) {
                    self.join(running, more);
                }
                return;
            }
        }
        let run = &mut self.tracking.outside;
        // Outside fixes far apart (hours of uncertain fixes between) are two runs, not one dwell.
        if run.last.is_some_and(|last| o.at - last > run_gap(self.policy)) {
            *run = OutsideRun::default();
        }
        run.since.get_or_insert(o.at);
        run.last = Some(o.at);
        run.fixes += 1;
        let new_place = !run.evidence.iter().any(|e| e.adcode == o.adcode);
        if run.evidence.len() < MAX_EVIDENCE_FIXES && (run.evidence.len() < 3 || new_place) {
            run.evidence.push(o.evidence());
        }
        if confirms(run, o, self.policy) {
            let run = std::mem::take(&mut self.tracking.outside);
            self.tracking.state = Some(SupervisionState::Absent);
            let application = match o.permit {
                Some(PermitUse::Overdue { application_id }) => Some(application_id),
                _ => None,
            };
            let evidence =
                Evidence { fixes: run.evidence, since: run.since, application_id: application, ..Evidence::default() };
            // Confirmed now, but the episode began with the first fix outside.
            let retrospective = self.retrospective(o.at);
            self.open(kind, run.since.unwrap_or(o.at), retrospective, evidence);
        } else {
            self.tracking.state = Some(SupervisionState::Suspected);
        }
    }

    fn zones(&mut self, o: &Observation) {
        let inside: Vec<i64> = o.zones.iter().filter(|h| h.placement == Placement::Inside).map(|h| h.zone_id).collect();
        if inside.is_empty() {
            // Near the edge of a zone the episode is about is neither entry nor exit.
            let near_entered = self
                .open
                .get(&AlertKind::ExclusionZoneEntry)
                .is_some_and(|e| o.zones.iter().any(|h| e.zones.contains(&h.zone_id)));
            if !near_entered {
                self.end(AlertKind::ExclusionZoneEntry, o.at);
            }
            return;
        }
        match self.open.get(&AlertKind::ExclusionZoneEntry) {
            Some(evidence) => {
                let new: Vec<i64> = inside.into_iter().filter(|z| !evidence.zones.contains(z)).collect();
                if !new.is_empty() && evidence.fixes.len() < MAX_EVIDENCE_FIXES {
                    let mut more = evidence.clone();
                    more.zones.extend(new);
                    more.fixes.push(o.evidence());
                    self.join(AlertKind::ExclusionZoneEntry, more);
                }
            }
            None => {
                let evidence = Evidence { fixes: vec![o.evidence()], zones: inside, ..Evidence::default() };
                let retrospective = self.retrospective(o.at);
                self.open(AlertKind::ExclusionZoneEntry, o.at, retrospective, evidence);
            }
        }
    }

    /// Late fixes: lost contact ends if the silent device is back; runs of fixes outside that
    /// confirm an absence on their own, and runs inside a zone, are offered as past episodes.
    fn late(&mut self, late: &[&Observation]) {
        let mut past = Vec::new();
        let mut absence = OutsideRun::default();
        let mut confirmed = false;
        let mut entry: Option<(DateTime<Utc>, DateTime<Utc>, Evidence)> = None;
        for o in late {
            self.contact(o);
            match (o.placement, o.permit) {
                (Placement::Inside, _) | (Placement::Outside, Some(PermitUse::InTransit { .. })) => {
                    past.extend(past_absence(&mut absence, &mut confirmed));
                }
                (Placement::Uncertain, _) => {}
                (Placement::Outside, _) => {
                    if absence.last.is_some_and(|last| o.at - last > run_gap(self.policy)) {
                        past.extend(past_absence(&mut absence, &mut confirmed));
                    }
                    absence.since.get_or_insert(o.at);
                    absence.last = Some(o.at);
                    absence.fixes += 1;
                    if absence.evidence.len() < MAX_EVIDENCE_FIXES {
                        absence.evidence.push(o.evidence());
                    }
                    confirmed |= confirms(&absence, o, self.policy);
                }
            }
            let entered: Vec<i64> =
                o.zones.iter().filter(|h| h.placement == Placement::Inside).map(|h| h.zone_id).collect();
            if !entered.is_empty() {
                let (_, until, evidence) =
                    entry.get_or_insert_with(|| (o.at, o.at, Evidence { since: Some(o.at), ..Evidence::default() }));
                *until = o.at;
                if evidence.fixes.len() < MAX_EVIDENCE_FIXES {
                    evidence.fixes.push(o.evidence());
                }
                for z in entered {
                    if !evidence.zones.contains(&z) {
                        evidence.zones.push(z);
                    }
                }
            } else if o.zones.is_empty() {
                if let Some((from, until, evidence)) = entry.take() {
                    past.push(Effect::Past { kind: AlertKind::ExclusionZoneEntry, from, until, evidence });
                }
            }
        }
        past.extend(past_absence(&mut absence, &mut confirmed));
        if let Some((from, until, evidence)) = entry {
            past.push(Effect::Past { kind: AlertKind::ExclusionZoneEntry, from, until, evidence });
        }
        self.effects.extend(past);
    }

    /// Evidence that reaches the service this long after its position time opens a
    /// retrospective alert: the absence is already history when anyone learns of it.
    fn retrospective(&self, at: DateTime<Utc>) -> bool {
        self.now - at > Duration::minutes(self.policy.retrospective_after_minutes.into())
    }

    fn open(&mut self, kind: AlertKind, at: DateTime<Utc>, retrospective: bool, evidence: Evidence) {
        self.open.insert(kind, evidence.clone());
        self.effects.push(Effect::Open { kind, opened_at: at, ended_at: None, retrospective, evidence });
    }

    fn join(&mut self, kind: AlertKind, evidence: Evidence) {
        self.open.insert(kind, evidence.clone());
        match self.last_effect(kind) {
            Some(Effect::Open { ended_at: None, evidence: e, .. } | Effect::Join { evidence: e, .. }) => *e = evidence,
            _ => self.effects.push(Effect::Join { kind, evidence }),
        }
    }

    fn end(&mut self, kind: AlertKind, at: DateTime<Utc>) {
        if self.open.remove(&kind).is_none() {
            return;
        }
        match self.last_effect(kind) {
            Some(Effect::Open { ended_at: ended @ None, .. }) => *ended = Some(at),
            _ => self.effects.push(Effect::End { kind, at }),
        }
    }

    fn last_effect(&mut self, kind: AlertKind) -> Option<&mut Effect> {
        self.effects.iter_mut().rev().find(|e| match e {
            Effect::Open { kind: k, .. } | Effect::Join { kind: k, .. } | Effect::End { kind: k, .. } => *k == kind,
            Effect::Past { .. } => false,
        })
    }
}

/// Closes a run of late fixes outside: a past absence if it confirmed one.
fn past_absence(run: &mut OutsideRun, confirmed: &mut bool) -> Option<Effect> {
    let run = std::mem::take(run);
    let proved = std::mem::take(confirmed);
    match (proved, run.since, run.last) {
        (true, Some(from), Some(until)) => {
            let evidence = Evidence { fixes: run.evidence, since: Some(from), ..Evidence::default() };
            Some(Effect::Past { kind: AlertKind::UnapprovedAbsence, from, until, evidence })
        }
        _ => None,
    }
}

/// Outside fixes further apart than this do not add up to one dwell.
fn run_gap(policy: &Policy) -> Duration {
    Duration::minutes(i64::from(policy.absence_min_minutes).max(15) * 4)
}

/// Dwell: enough fixes outside over enough time, or one accurate fix far beyond the edge.
fn confirms(run: &OutsideRun, o: &Observation, policy: &Policy) -> bool {
    let dwelt = run.since.is_some_and(|since| o.at - since >= Duration::minutes(policy.absence_min_minutes.into()));
    let far = o.distance_m >= policy.absence_far_km * 1000.0 && o.accuracy_m <= policy.absence_far_max_accuracy_m;
    (run.fixes >= policy.absence_min_fixes && dwelt) || far
}

/// The evidence with `o` added, when `o` is in a place the evidence does not show yet.
fn with_new_place(evidence: &Evidence, o: &Observation) -> Option<Evidence> {
    let new = o.adcode.is_some() && !evidence.fixes.iter().any(|e| e.adcode == o.adcode);
    (new && evidence.fixes.len() < MAX_EVIDENCE_FIXES).then(|| {
        let mut more = evidence.clone();
        more.fixes.push(o.evidence());
        more
    })
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
