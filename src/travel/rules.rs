//! Who decides a travel application, whether the procuratorate is told, and what to warn about.
//! Every number is a setting (`Policy`); days count in the configured time zone.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::settings::Policy;
use crate::{Error, Result};

text_enum! {
    /// The level of the corrections agency that decides, lowest first.
    #[derive(PartialOrd, Ord)]
    pub enum Level {
        /// 司法所 (delegated): trips up to `policy.trip_office_max_days`.
        Office = "office",
        /// 县级社区矫正机构: longer trips and regular activity.
        County = "county",
        /// 市级社区矫正机构: trips beyond `policy.trip_county_max_days`, alone or cumulatively.
        City = "city",
    }
}

/// Something the decider should know; never a reason to refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// Fewer days of notice than `policy.trip_notice_days`.
    ShortNotice { days: i64 },
    /// The dates overlap another trip of the person (pending or approved).
    Overlaps { application_id: i64 },
}

/// Where an application goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Routing {
    pub decided_by: Level,
    /// The person's county procuratorate is notified (the city decides).
    pub notify_procuratorate: bool,
    /// The rule that routed it, in words.
    pub rule: String,
    pub warnings: Vec<Warning>,
}

/// Another trip of the same person, for the cumulative count and overlap warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherTrip {
    pub application_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Only approved trips count towards the cumulative days; pending ones are warned about.
    pub approved: bool,
}

/// The day it is in the configured time zone: date rules never count in UTC.
pub fn local_today(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// A trip from `starts_on` to `ends_on` lasts both days and every day between.
pub fn trip_days(starts_on: NaiveDate, ends_on: NaiveDate) -> i64 {
    (ends_on - starts_on).num_days() + 1
}

/// Days of approved trips within the `policy.trip_cumulative_window_days` days that end on this
/// trip's last day, plus this trip's own days (a day counted once).
pub fn cumulative_days(starts_on: NaiveDate, ends_on: NaiveDate, others: &[OtherTrip], policy: &Policy) -> i64 {
    let window_start = ends_on - chrono::Days::new(u64::from(policy.trip_cumulative_window_days) - 1);
    let mut days: Vec<NaiveDate> = starts_on.iter_days().take_while(|d| *d <= ends_on).collect();
    for other in others.iter().filter(|o| o.approved) {
        let from = other.starts_on.max(window_start);
        days.extend(from.iter_days().take_while(|d| *d <= other.ends_on.min(ends_on)));
    }
    days.sort_unstable();
    days.dedup();
    days.len() as i64
}

fn check_dates(starts_on: NaiveDate, ends_on: NaiveDate, today: NaiveDate) -> Result<()> {
    if ends_on < starts_on {
        return Err(Error::invalid("ends_on", "must not be before starts_on"));
    }
    if starts_on < today {
        return Err(Error::invalid("starts_on", format!("lies in the past (today is {today})")));
    }
    Ok(())
}

fn overlaps(starts_on: NaiveDate, ends_on: NaiveDate, others: &[OtherTrip]) -> Vec<Warning> {
    others
        .iter()
        .filter(|o| o.starts_on <= ends_on && starts_on <= o.ends_on)
        .map(|o| Warning::Overlaps { application_id: o.application_id })
        .collect()
}

/// Routes a trip application: by its length, then by the cumulative days within the window.
pub fn route_trip(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    today: NaiveDate,
    others: &[OtherTrip],
    policy: &Policy,
) -> Result<Routing> {
    check_dates(starts_on, ends_on, today)?;
    let mut routing = by_length(starts_on, ends_on, others, policy);
    let notice = (starts_on - today).num_days();
    if notice < i64::from(policy.trip_notice_days) {
        routing.warnings.push(Warning::ShortNotice { days: notice });
    }
    routing.warnings.extend(overlaps(starts_on, ends_on, others));
    Ok(routing)
}

/// Routes a request to extend an approved trip to `new_ends_on`: by the new total length (the
/// notice rule does not apply; the trip is under way or about to be).
pub fn route_extension(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    new_ends_on: NaiveDate,
    others: &[OtherTrip],
    policy: &Policy,
) -> Result<Routing> {
    if new_ends_on <= ends_on {
        return Err(Error::invalid("ends_on", format!("must be after the approved end, {ends_on}")));
    }
    let mut routing = by_length(starts_on, new_ends_on, others, policy);
    routing.warnings.extend(overlaps(ends_on + chrono::Days::new(1), new_ends_on, others));
    Ok(routing)
}

fn by_length(starts_on: NaiveDate, ends_on: NaiveDate, others: &[OtherTrip], policy: &Policy) -> Routing {
    let days = trip_days(starts_on, ends_on);
    let cumulative = cumulative_days(starts_on, ends_on, others, policy);
    let (county_max, window) = (i64::from(policy.trip_county_max_days), policy.trip_cumulative_window_days);
    let (decided_by, rule) = if days > county_max {
        (Level::City, format!("{days} days: more than {county_max} days, the city agency decides"))
    } else if cumulative > i64::from(policy.trip_cumulative_max_days) {
        let max = policy.trip_cumulative_max_days;
        let rule = format!("{cumulative} days of trips within {window} days: more than {max}, the city agency decides");
        (Level::City, rule)
    } else if days > i64::from(policy.trip_office_max_days) {
        let max = policy.trip_office_max_days;
        (Level::County, format!("{days} days: more than {max} days, the county agency decides"))
    } else {
        let max = policy.trip_office_max_days;
        (Level::Office, format!("{days} days: up to {max} days, the judicial office decides"))
    };
    Routing { notify_procuratorate: decided_by == Level::City, decided_by, rule, warnings: Vec::new() }
}

/// Routes a regular cross-city activity application: the county agency decides, for at most
/// `policy.regular_travel_months` from its start.
pub fn route_regular(starts_on: NaiveDate, ends_on: NaiveDate, today: NaiveDate, policy: &Policy) -> Result<Routing> {
    check_dates(starts_on, ends_on, today)?;
    let months = policy.regular_travel_months;
    let last = starts_on.checked_add_months(Months::new(months)).map(|d| d - chrono::Days::new(1));
    if last.is_none_or(|last| ends_on > last) {
        return Err(Error::invalid("ends_on", format!("a regular permit is valid for at most {months} months")));
    }
    Ok(Routing {
        decided_by: Level::County,
        notify_procuratorate: false,
        rule: format!("regular cross-city activity: the county agency decides, for up to {months} months"),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
