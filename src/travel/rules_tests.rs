//! One test per line of domain.md §3 "Dates and days", "Trips" and "Regular cross-city activity",
//! each threshold at ±1 day.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TODAY: &str = "2026-11-01";

/// The field a refusal names.
fn field(e: &Error) -> Option<&str> {
    match e {
        Error::Invalid { field, .. } => Some(field.as_str()),
        _ => None,
    }
}

/// A trip starting a week ahead (enough notice) and lasting `days`.
fn route(days: u64, others: &[OtherTrip]) -> Routing {
    let starts = d("2026-11-08");
    route_trip(starts, starts + chrono::Days::new(days - 1), d(TODAY), others, &Policy::default()).unwrap()
}

fn approved(id: i64, starts: &str, ends: &str) -> OtherTrip {
    OtherTrip { application_id: id, starts_on: d(starts), ends_on: d(ends), approved: true }
}

#[test]
fn a_trip_lasts_its_first_and_last_day_and_every_day_between() {
    assert_eq!(trip_days(d("2026-11-08"), d("2026-11-08")), 1);
    assert_eq!(trip_days(d("2026-11-08"), d("2026-11-14")), 7);
    assert_eq!(trip_days(d("2026-12-30"), d("2027-01-02")), 4, "across the year");
}

#[test]
fn days_count_in_the_local_time_zone() {
    let tz = chrono_tz::Asia::Shanghai;
    // 16:30 UTC on 29 November is half past midnight on the 30th in Wuhan.
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 16, 30, 0).unwrap();
    assert_eq!(local_today(now, tz), d("2026-11-30"));
    assert_eq!(local_today(now - chrono::Duration::hours(1), tz), d("2026-11-29"));
    // A trip on 2 December: three days' notice by UTC, two by Wuhan's calendar.
    let routing = route_trip(d("2026-12-02"), d("2026-12-02"), local_today(now, tz), &[], &Policy::default()).unwrap();
    assert_eq!(routing.warnings, [Warning::ShortNotice { days: 2 }]);
}

#[test]
fn the_judicial_office_decides_up_to_seven_days_the_county_beyond() {
    let cases = [(1, Level::Office), (6, Level::Office), (7, Level::Office), (8, Level::County), (9, Level::County)];
    for (days, level) in cases {
        let routing = route(days, &[]);
        assert_eq!((routing.decided_by, routing.notify_procuratorate), (level, false), "{days} days");
    }
}

#[test]
fn beyond_thirty_days_the_city_decides_and_the_procuratorate_is_told() {
    for (days, level, notify) in [(29, Level::County, false), (30, Level::County, false), (31, Level::City, true)] {
        let routing = route(days, &[]);
        assert_eq!((routing.decided_by, routing.notify_procuratorate), (level, notify), "{days} days");
    }
    assert!(route(31, &[]).rule.contains("31 days"), "the answer names the rule");
}

#[test]
fn more_than_thirty_days_within_two_months_counting_approved_trips_goes_to_the_city() {
    // This trip: 8–17 November (10 days); its window is the 60 days ending 17 November.
    let trip = |others: &[OtherTrip]| route(10, others);
    let twenty = approved(1, "2026-10-01", "2026-10-20");
    assert_eq!(trip(&[twenty]).decided_by, Level::County, "10 + 20 = 30 days");
    let twenty_one = approved(1, "2026-10-01", "2026-10-21");
    let routing = trip(&[twenty_one]);
    assert_eq!((routing.decided_by, routing.notify_procuratorate), (Level::City, true), "10 + 21 = 31 days");
    assert!(routing.rule.contains("31 days of trips within 60 days"), "{}", routing.rule);
    // Two earlier trips add up.
    let two = [approved(1, "2026-10-01", "2026-10-10"), approved(2, "2026-10-20", "2026-10-30")];
    assert_eq!(trip(&two).decided_by, Level::City, "10 + 10 + 11 = 31 days");
    // Only the days inside the window count: it starts on 19 September.
    let straddling = approved(1, "2026-09-10", "2026-10-09");
    assert_eq!(cumulative_days(d("2026-11-08"), d("2026-11-17"), &[straddling], &Policy::default()), 10 + 21);
    let before = approved(1, "2026-09-01", "2026-09-18");
    assert_eq!(cumulative_days(d("2026-11-08"), d("2026-11-17"), &[before], &Policy::default()), 10);
    // Pending applications do not count.
    let pending = OtherTrip { approved: false, ..approved(1, "2026-10-01", "2026-10-30") };
    assert_eq!(trip(&[pending]).decided_by, Level::County);
}

#[test]
fn three_days_notice_is_normal_less_is_allowed_with_a_warning() {
    let policy = Policy::default();
    let on = |starts: &str| route_trip(d(starts), d(starts), d(TODAY), &[], &policy).unwrap().warnings;
    assert!(on("2026-11-04").is_empty(), "three days ahead");
    assert_eq!(on("2026-11-03"), [Warning::ShortNotice { days: 2 }]);
    assert_eq!(on(TODAY), [Warning::ShortNotice { days: 0 }], "today: still allowed");
}

#[test]
fn trips_in_the_past_or_ending_before_they_start_are_refused() {
    let policy = Policy::default();
    let past = route_trip(d("2026-10-31"), d("2026-11-02"), d(TODAY), &[], &policy).unwrap_err();
    assert_eq!(field(&past), Some("starts_on"));
    let backwards = route_trip(d("2026-11-09"), d("2026-11-08"), d(TODAY), &[], &policy).unwrap_err();
    assert_eq!(field(&backwards), Some("ends_on"));
}

#[test]
fn overlapping_trips_are_warned_about() {
    let pending =
        OtherTrip { application_id: 9, starts_on: d("2026-11-10"), ends_on: d("2026-11-12"), approved: false };
    assert_eq!(route(3, &[pending]).warnings, [Warning::Overlaps { application_id: 9 }], "8–10 touches 10–12");
    assert!(route(2, &[pending]).warnings.is_empty(), "8–9 does not");
}

#[test]
fn an_extension_is_routed_by_the_new_total_length() {
    let policy = Policy::default();
    let (starts, ends) = (d("2026-11-08"), d("2026-11-14"));
    assert_eq!(route_extension(starts, ends, d("2026-11-15"), &[], &policy).unwrap().decided_by, Level::County);
    assert_eq!(
        route_extension(starts, ends, d("2026-12-07"), &[], &policy).unwrap().decided_by,
        Level::County,
        "30 days"
    );
    assert_eq!(
        route_extension(starts, ends, d("2026-12-08"), &[], &policy).unwrap().decided_by,
        Level::City,
        "31 days"
    );
    assert!(route_extension(starts, ends, ends, &[], &policy).is_err(), "no longer is no extension");
}

#[test]
fn regular_activity_is_decided_by_the_county_for_up_to_six_months() {
    let policy = Policy::default();
    let starts = d("2026-12-01");
    let routing = route_regular(starts, d("2027-05-31"), d(TODAY), &policy).unwrap();
    assert_eq!((routing.decided_by, routing.notify_procuratorate), (Level::County, false), "exactly six months");
    let too_long = route_regular(starts, d("2027-06-01"), d(TODAY), &policy).unwrap_err();
    assert_eq!(field(&too_long), Some("ends_on"), "six months and a day");
    assert!(route_regular(d("2026-10-01"), d("2026-12-01"), d(TODAY), &policy).is_err(), "in the past");
}

#[test]
fn every_threshold_is_a_setting() {
    let policy =
        Policy { trip_office_max_days: 3, trip_county_max_days: 10, trip_cumulative_max_days: 12, ..Policy::default() };
    let starts = d("2026-11-08");
    let level = |days: u64| {
        route_trip(starts, starts + chrono::Days::new(days - 1), d(TODAY), &[], &policy).unwrap().decided_by
    };
    assert_eq!((level(3), level(4), level(10), level(11)), (Level::Office, Level::County, Level::County, Level::City));
    assert!(Level::Office < Level::County && Level::County < Level::City, "levels are ordered");
}
