use chrono::TimeZone;

use super::*;
use crate::geofence::ZoneHit;

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap() + Duration::minutes(minute)
}

fn fix(minute: i64, placement: Placement, distance_m: f64, accuracy_m: f64) -> Observation {
    Observation {
        id: format!("f{minute}"),
        at: t(minute),
        device_id: 1,
        placement,
        distance_m,
        accuracy_m,
        adcode: Some(if placement == Placement::Inside { "420102" } else { "420902" }.to_owned()),
        place: None,
        zones: Vec::new(),
        permit: None,
    }
}

fn outside(minute: i64) -> Observation {
    fix(minute, Placement::Outside, 2000.0, 20.0)
}

fn inside(minute: i64) -> Observation {
    fix(minute, Placement::Inside, -2000.0, 20.0)
}

fn run(tracking: &Tracking, open: &HashMap<AlertKind, Evidence>, obs: &[Observation]) -> Step {
    step(tracking, open, obs, &Policy::default(), t(60))
}

fn kinds(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Open { ended_at: None, .. } => "open",
            Effect::Open { ended_at: Some(_), .. } => "open+end",
            Effect::Join { .. } => "join",
            Effect::End { .. } => "end",
            Effect::Past { .. } => "past",
        })
        .collect()
}

#[test]
fn one_fix_outside_is_only_suspected() {
    let s = run(&Tracking::default(), &HashMap::new(), &[outside(0)]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Suspected));
    assert!(s.effects.is_empty());
}

#[test]
fn dwell_confirms_an_absence_with_its_evidence() {
    let s = run(&Tracking::default(), &HashMap::new(), &[outside(0), outside(5), outside(10)]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Absent));
    let [Effect::Open { kind, opened_at, evidence, retrospective, ended_at: None }] = &s.effects[..] else {
        panic!("{:?}", s.effects)
    };
    // Confirmed by the fix at 10 minutes; the episode began with the first fix outside.
    assert_eq!((*kind, *opened_at, *retrospective), (AlertKind::UnapprovedAbsence, t(0), true));
    assert_eq!(evidence.fixes.len(), 3);
    assert_eq!(evidence.since, Some(t(0)));
}

#[test]
fn two_fixes_a_minute_apart_are_not_yet_dwell() {
    let s = run(&Tracking::default(), &HashMap::new(), &[outside(0), outside(1)]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Suspected));
    assert!(s.effects.is_empty());
}

#[test]
fn one_accurate_fix_far_beyond_the_edge_confirms_at_once() {
    let far = fix(0, Placement::Outside, 5000.0, 1000.0);
    assert_eq!(kinds(&run(&Tracking::default(), &HashMap::new(), &[far]).effects), ["open"]);
    let vague = fix(0, Placement::Outside, 50_000.0, 1001.0);
    assert!(run(&Tracking::default(), &HashMap::new(), &[vague]).effects.is_empty());
}

#[test]
fn uncertain_fixes_are_no_evidence_either_way() {
    let noisy = fix(0, Placement::Uncertain, 150.0, 300.0);
    let s = run(&Tracking::default(), &HashMap::new(), &[noisy.clone(), fix(20, Placement::Uncertain, 100.0, 300.0)]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Uncertain));
    assert!(s.effects.is_empty());
    // An uncertain fix while absent does not end the episode.
    let open = HashMap::from([(AlertKind::UnapprovedAbsence, Evidence::default())]);
    let absent = Tracking { state: Some(SupervisionState::Absent), ..Tracking::default() };
    let s = run(&absent, &open, &[noisy]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Absent));
    assert!(s.effects.is_empty());
}

#[test]
fn a_backlog_that_went_and_came_back_opens_and_ends_one_episode() {
    let s = run(&Tracking::default(), &HashMap::new(), &[inside(-30), outside(0), outside(12), inside(20), inside(30)]);
    assert_eq!(kinds(&s.effects), ["open+end"]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Inside));
    assert_eq!(s.tracking.last_fix_at, Some(t(30)));
}

#[test]
fn a_second_episode_needs_a_return_first() {
    let open = HashMap::from([(AlertKind::UnapprovedAbsence, Evidence::default())]);
    let absent = Tracking { state: Some(SupervisionState::Absent), last_fix_at: Some(t(0)), ..Tracking::default() };
    let s = run(&absent, &open, &[outside(5), outside(30)]);
    // Same place as before is no material change: nothing new for the open alert.
    assert_eq!(kinds(&s.effects), ["join"]);
    let s = run(
        &s.tracking,
        &HashMap::from([(
            AlertKind::UnapprovedAbsence,
            Evidence { fixes: vec![outside(5).evidence()], ..Evidence::default() },
        )]),
        &[outside(40)],
    );
    assert!(s.effects.is_empty());
    let s = run(&absent, &open, &[inside(10), outside(20), outside(35)]);
    assert_eq!(kinds(&s.effects), ["end", "open"]);
}

#[test]
fn late_fixes_never_change_the_state_or_end_an_episode() {
    let open = HashMap::from([(AlertKind::UnapprovedAbsence, Evidence::default())]);
    let absent = Tracking { state: Some(SupervisionState::Absent), last_fix_at: Some(t(50)), ..Tracking::default() };
    let s = run(&absent, &open, &[inside(10), inside(20)]);
    assert_eq!(s.tracking, absent);
    assert!(s.effects.is_empty());
}

#[test]
fn late_fixes_that_prove_an_absence_are_offered_as_past() {
    let now_inside =
        Tracking { state: Some(SupervisionState::Inside), last_fix_at: Some(t(50)), ..Tracking::default() };
    let s = run(&now_inside, &HashMap::new(), &[outside(0), outside(5), outside(15), inside(20), outside(30)]);
    let [Effect::Past { kind: AlertKind::UnapprovedAbsence, from, until, evidence }] = &s.effects[..] else {
        panic!("{:?}", s.effects)
    };
    assert_eq!((*from, *until, evidence.fixes.len()), (t(0), t(15), 3));
    assert_eq!(s.tracking, now_inside);
}

#[test]
fn entering_a_zone_opens_once_and_leaving_ends() {
    let mut a = inside(0);
    a.zones = vec![ZoneHit { zone_id: 7, placement: Placement::Inside, distance_m: -30.0 }];
    let mut b = inside(1);
    b.zones = a.zones.clone();
    let mut near = inside(2);
    near.zones = vec![ZoneHit { zone_id: 7, placement: Placement::Uncertain, distance_m: 10.0 }];
    let s = run(&Tracking::default(), &HashMap::new(), &[a, b, near]);
    let [Effect::Open { kind: AlertKind::ExclusionZoneEntry, evidence, ended_at: None, .. }] = &s.effects[..] else {
        panic!("{:?}", s.effects)
    };
    assert_eq!(evidence.zones, [7]);
    let open = HashMap::from([(AlertKind::ExclusionZoneEntry, evidence.clone())]);
    assert_eq!(kinds(&run(&s.tracking, &open, &[inside(3)]).effects), ["end"]);
}

#[test]
fn lost_contact_ends_when_the_silent_device_reports() {
    let open = HashMap::from([
        (AlertKind::LostContact, Evidence { device_id: Some(2), ..Evidence::default() }),
        (AlertKind::MissedCheckin, Evidence::default()),
    ]);
    let s = run(&Tracking::default(), &open, &[inside(0)]);
    assert_eq!(s.effects, [Effect::End { kind: AlertKind::MissedCheckin, at: t(0) }]);
    let mut tag = inside(1);
    tag.device_id = 2;
    assert_eq!(kinds(&run(&Tracking::default(), &open, &[tag]).effects), ["end", "end"]);
}

#[test]
fn long_gaps_between_fixes_are_kept_as_silent_periods() {
    let s = run(&Tracking::default(), &HashMap::new(), &[inside(-300), inside(-280), inside(-60), inside(0)]);
    assert_eq!(s.silences, [(t(-280), t(-60))], "more than three hours without a fix");
    let before = Tracking { last_fix_at: Some(t(-400)), ..Tracking::default() };
    assert_eq!(run(&before, &HashMap::new(), &[inside(0)]).silences, [(t(-400), t(0))]);
}

#[test]
fn outside_fixes_hours_apart_are_not_one_dwell() {
    let noisy = |m| fix(m, Placement::Uncertain, 100.0, 300.0);
    let s = run(&Tracking::default(), &HashMap::new(), &[outside(-300), noisy(-200), noisy(-100), outside(0)]);
    assert_eq!(s.tracking.state, Some(SupervisionState::Suspected), "{:?}", s.effects);
    assert!(s.effects.is_empty());
}

#[test]
fn a_silent_tag_uploading_its_backlog_ends_lost_contact() {
    let since = t(-60);
    let open = HashMap::from([(
        AlertKind::LostContact,
        Evidence { device_id: Some(2), since: Some(since), ..Evidence::default() },
    )]);
    // The phone's newest fix is at t(0); the tag's buffered fixes are older than that.
    let tracking = Tracking { last_fix_at: Some(t(0)), ..Tracking::default() };
    let mut old = inside(-90);
    old.device_id = 2;
    assert!(run(&tracking, &open, &[old]).effects.is_empty(), "from before the silence: no contact");
    let mut buffered = inside(-30);
    buffered.device_id = 2;
    assert_eq!(run(&tracking, &open, &[buffered]).effects, [Effect::End { kind: AlertKind::LostContact, at: t(-30) }]);
}

#[test]
fn the_edge_of_another_zone_does_not_keep_an_entry_running() {
    let open = HashMap::from([(AlertKind::ExclusionZoneEntry, Evidence { zones: vec![7], ..Evidence::default() })]);
    let mut near_other = inside(0);
    near_other.zones = vec![ZoneHit { zone_id: 9, placement: Placement::Uncertain, distance_m: 5.0 }];
    assert_eq!(kinds(&run(&Tracking::default(), &open, &[near_other]).effects), ["end"]);
    let mut near_same = inside(0);
    near_same.zones = vec![ZoneHit { zone_id: 7, placement: Placement::Uncertain, distance_m: 5.0 }];
    assert!(run(&Tracking::default(), &open, &[near_same]).effects.is_empty());
}

#[test]
fn a_late_backlog_inside_a_zone_is_a_past_entry() {
    let tracking = Tracking { last_fix_at: Some(t(50)), ..Tracking::default() };
    let mut a = inside(10);
    a.zones = vec![ZoneHit { zone_id: 7, placement: Placement::Inside, distance_m: -20.0 }];
    let mut b = inside(12);
    b.zones = a.zones.clone();
    let s = run(&tracking, &HashMap::new(), &[a, b, inside(20)]);
    let [Effect::Past { kind: AlertKind::ExclusionZoneEntry, from, until, evidence }] = &s.effects[..] else {
        panic!("{:?}", s.effects)
    };
    assert_eq!((*from, *until, evidence.zones.clone()), (t(10), t(12), vec![7]));
}

#[test]
fn on_the_way_is_no_evidence_and_after_a_trip_absence_is_an_overdue_return() {
    let on_the_way = |m| Observation { permit: Some(PermitUse::InTransit { application_id: 3 }), ..outside(m) };
    let s = run(&Tracking::default(), &HashMap::new(), &[on_the_way(0), on_the_way(20)]);
    assert_eq!((s.tracking.state, s.effects.len()), (Some(SupervisionState::InTransit), 0));
    let late_back = |m| Observation { permit: Some(PermitUse::Overdue { application_id: 3 }), ..outside(m) };
    let s = run(&Tracking::default(), &HashMap::new(), &[late_back(0), late_back(15)]);
    let [Effect::Open { kind: AlertKind::OverdueReturn, evidence, .. }] = &s.effects[..] else {
        panic!("{:?}", s.effects)
    };
    assert_eq!(evidence.application_id, Some(3));
    let at_destination = Observation { permit: Some(PermitUse::AtDestination { application_id: 3 }), ..inside(0) };
    let s = run(&Tracking::default(), &HashMap::new(), &[at_destination]);
    assert_eq!(s.tracking.state, Some(SupervisionState::AwayPermitted));
}
