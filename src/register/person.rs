//! A person under community corrections (社区矫正对象): enrolment rules, and when they must
//! report in.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::settings::Policy;
use crate::units::Units;
use crate::{Error, Result};

/// The four kinds of community corrections; each has its own consequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 管制
    Control,
    /// 缓刑
    Probation,
    /// 假释
    Parole,
    /// 暂予监外执行 (incl. medical parole 保外就医)
    TemporaryRelease,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Control => "control",
            Category::Probation => "probation",
            Category::Parole => "parole",
            Category::TemporaryRelease => "temporary_release",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Category::Control, Category::Probation, Category::Parole, Category::TemporaryRelease]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Supervision state (domain.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionState {
    /// In the allowed area.
    Inside,
    /// The fix's accuracy circle crosses the edge.
    Uncertain,
    /// Outside, not yet confirmed.
    Suspected,
    /// Confirmed outside without permission.
    Absent,
    /// Travelling on an approved trip's first or last day.
    InTransit,
    /// At an approved destination.
    AwayPermitted,
    /// No fix within the interval.
    Lost,
    /// Supervision over: no more alerts.
    Ended,
}

impl SupervisionState {
    pub const ALL: [SupervisionState; 8] = [
        SupervisionState::Inside,
        SupervisionState::Uncertain,
        SupervisionState::Suspected,
        SupervisionState::Absent,
        SupervisionState::InTransit,
        SupervisionState::AwayPermitted,
        SupervisionState::Lost,
        SupervisionState::Ended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SupervisionState::Inside => "inside",
            SupervisionState::Uncertain => "uncertain",
            SupervisionState::Suspected => "suspected",
            SupervisionState::Absent => "absent",
            SupervisionState::InTransit => "in_transit",
            SupervisionState::AwayPermitted => "away_permitted",
            SupervisionState::Lost => "lost",
            SupervisionState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Who answers for a late registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Responsible {
    /// The person must report in themselves.
    Person,
    /// Temporary release: the prison, detention centre or police hands the person over.
    Custodian,
}

/// An officer's request to enrol a person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    pub name: String,
    pub category: Category,
    /// County-level adcode of the residence (执行地); must be the office's county.
    pub residence_adcode: String,
    /// The judicial office that supervises the person.
    pub office: String,
    /// The day the judgment, ruling or decision took effect.
    pub judgment_effective_on: NaiveDate,
    /// Parole: the day of release (required). Temporary release: the day of hand-over, if known.
    pub released_on: Option<NaiveDate>,
    pub supervision_ends_on: NaiveDate,
}

/// A validated enrolment, ready to store.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub name: String,
    pub category: Category,
    pub residence_adcode: String,
    pub office: String,
    pub judgment_effective_on: NaiveDate,
    pub released_on: Option<NaiveDate>,
    pub supervision_ends_on: NaiveDate,
    pub registration_due_on: NaiveDate,
}

impl Enrolment {
    pub fn validate(self, units: &Units, policy: &Policy) -> Result<NewPerson> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("name", "must be 1–100 characters"));
        }
        units.require_county("residence_adcode", &self.residence_adcode)?;
        if self.office.trim().is_empty() {
            return Err(Error::invalid("office", "must name a judicial office"));
        }
        for (field, day) in [
            ("judgment_effective_on", Some(self.judgment_effective_on)),
            ("released_on", self.released_on),
            ("supervision_ends_on", Some(self.supervision_ends_on)),
        ] {
            check_plausible(field, day)?;
        }
        match (self.category, self.released_on) {
            (Category::Parole, None) => {
                return Err(Error::invalid("released_on", "is required for parole: registration runs from release"))
            }
            (Category::Control | Category::Probation, Some(_)) => {
                return Err(Error::invalid("released_on", "applies only to parole and temporary release"))
            }
            _ => {}
        }
        if let Some(released) = self.released_on {
            if released < self.judgment_effective_on {
                return Err(Error::invalid("released_on", "must not be before judgment_effective_on"));
            }
        }
        let starts = self.released_on.unwrap_or(self.judgment_effective_on);
        if self.supervision_ends_on <= starts {
            return Err(Error::invalid("supervision_ends_on", "must be after judgment_effective_on and released_on"));
        }
        let registration_due_on = registration_due(self.category, self.judgment_effective_on, self.released_on, policy)
            .ok_or_else(|| Error::invalid("judgment_effective_on", "is out of range"))?;
        Ok(NewPerson {
            name: name.to_owned(),
            category: self.category,
            residence_adcode: self.residence_adcode,
            office: self.office.trim().to_owned(),
            judgment_effective_on: self.judgment_effective_on,
            released_on: self.released_on,
            supervision_ends_on: self.supervision_ends_on,
            registration_due_on,
        })
    }
}

/// Community corrections exist since 2003 and no sentence runs for centuries: a date outside
/// 1979–2200 is a typing error, refused before it reaches a database that could not store it.
fn check_plausible(field: &str, day: Option<NaiveDate>) -> Result<()> {
    let (first, last) = (NaiveDate::from_ymd_opt(1979, 1, 1), NaiveDate::from_ymd_opt(2200, 12, 31));
    match (day, first, last) {
        (Some(d), Some(first), Some(last)) if d < first || d > last => {
            Err(Error::invalid(field, "must be between 1979-01-01 and 2200-12-31"))
        }
        _ => Ok(()),
    }
}

/// The last day to report in (domain.md §3 "Registration"): control and probation count from
/// the judgment, parole from release, temporary release from the decision (the custodian's
/// hand-over is due within the same period).
pub fn registration_due(
    category: Category,
    judgment_effective_on: NaiveDate,
    released_on: Option<NaiveDate>,
    policy: &Policy,
) -> Option<NaiveDate> {
    let from = match category {
        Category::Parole => released_on?,
        _ => judgment_effective_on,
    };
    from.checked_add_days(Days::new(policy.registration_days.into()))
}

/// A person as the register holds them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub residence_adcode: String,
    pub office: String,
    pub county: String,
    pub city: String,
    pub judgment_effective_on: NaiveDate,
    pub released_on: Option<NaiveDate>,
    pub supervision_ends_on: NaiveDate,
    pub registration_due_on: NaiveDate,
    pub registered_on: Option<NaiveDate>,
    /// Supervision state; absent until the first fix is judged.
    pub state: Option<SupervisionState>,
    /// Position time of the newest fix judged.
    pub last_fix_at: Option<DateTime<Utc>>,
    /// Alerts not yet resolved.
    pub open_alerts: i64,
    pub ended_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// Where a person stands with registration on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegistrationDue {
    pub due_on: NaiveDate,
    pub registered_on: Option<NaiveDate>,
    pub responsible: Responsible,
    /// Days after the due day on which the person reported in, or has still not.
    pub days_late: i64,
    /// Not reported in and past the due day: 漏管.
    pub missed: bool,
}

impl Person {
    pub fn registration(&self, today: NaiveDate) -> RegistrationDue {
        let reference = self.registered_on.unwrap_or(today);
        let days_late = (reference - self.registration_due_on).num_days().max(0);
        RegistrationDue {
            due_on: self.registration_due_on,
            registered_on: self.registered_on,
            responsible: match self.category {
                Category::TemporaryRelease => Responsible::Custodian,
                _ => Responsible::Person,
            },
            days_late,
            missed: self.registered_on.is_none() && days_late > 0,
        }
    }

    /// The earliest day a registration can be recorded for.
    pub fn supervision_starts_on(&self) -> NaiveDate {
        self.released_on.unwrap_or(self.judgment_effective_on)
    }
}

/// An officer's record that the person reported in (报到).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The day the person reported in; today (local time) when omitted.
    pub on: Option<NaiveDate>,
}

impl Registration {
    /// The day to record, checked against the person's dates.
    pub fn day(&self, person: &Person, today: NaiveDate) -> Result<NaiveDate> {
        let on = self.on.unwrap_or(today);
        if on > today {
            return Err(Error::invalid("on", "must not be in the future"));
        }
        if on < person.supervision_starts_on() {
            return Err(Error::invalid("on", "must not be before supervision starts"));
        }
        if on > person.supervision_ends_on {
            return Err(Error::invalid("on", "must not be after supervision ends"));
        }
        Ok(on)
    }
}

/// Which persons to list.
#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    pub office: Option<String>,
    pub state: Option<SupervisionState>,
    /// Only persons not registered by their due day.
    pub unregistered: bool,
    pub limit: i64,
    /// Persons with an id greater than this (keyset paging).
    pub after: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn enrolment(category: Category, released_on: Option<&str>) -> Enrolment {
        Enrolment {
            name: "张三".into(),
            category,
            residence_adcode: "420102".into(),
            office: "ja-dazhi".into(),
            judgment_effective_on: day("2026-03-01"),
            released_on: released_on.map(day),
            supervision_ends_on: day("2027-03-01"),
        }
    }

    fn invalid_field(r: Result<NewPerson>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn registration_is_due_ten_days_after_the_judgment_or_release() {
        let (units, policy) = (Units::bundled().unwrap(), Policy::default());
        let probation = enrolment(Category::Probation, None).validate(&units, &policy).unwrap();
        assert_eq!(probation.registration_due_on, day("2026-03-11"));
        let parole = enrolment(Category::Parole, Some("2026-03-05")).validate(&units, &policy).unwrap();
        assert_eq!(parole.registration_due_on, day("2026-03-15"));
        let temporary = enrolment(Category::TemporaryRelease, None).validate(&units, &policy).unwrap();
        assert_eq!(temporary.registration_due_on, day("2026-03-11"));
    }

    #[test]
    fn inconsistent_dates_name_the_field() {
        let (units, policy) = (Units::bundled().unwrap(), Policy::default());
        assert_eq!(invalid_field(enrolment(Category::Parole, None).validate(&units, &policy)), "released_on");
        assert_eq!(
            invalid_field(enrolment(Category::Probation, Some("2026-03-05")).validate(&units, &policy)),
            "released_on"
        );
        assert_eq!(
            invalid_field(enrolment(Category::Parole, Some("2026-02-01")).validate(&units, &policy)),
            "released_on"
        );
        let mut backwards = enrolment(Category::Control, None);
        backwards.supervision_ends_on = day("2026-02-01");
        assert_eq!(invalid_field(backwards.validate(&units, &policy)), "supervision_ends_on");
        let mut ancient = enrolment(Category::Control, None);
        ancient.judgment_effective_on = day("0900-01-01");
        assert_eq!(invalid_field(ancient.validate(&units, &policy)), "judgment_effective_on");
        let mut city = enrolment(Category::Control, None);
        city.residence_adcode = "420100".into();
        assert_eq!(invalid_field(city.validate(&units, &policy)), "residence_adcode");
    }

    #[test]
    fn a_custodian_answers_for_a_late_hand_over() {
        let (units, policy) = (Units::bundled().unwrap(), Policy::default());
        let p = enrolment(Category::TemporaryRelease, None).validate(&units, &policy).unwrap();
        let person = Person {
            id: 1,
            name: p.name,
            category: p.category,
            residence_adcode: p.residence_adcode,
            office: p.office,
            county: "420102".into(),
            city: "420100".into(),
            judgment_effective_on: p.judgment_effective_on,
            released_on: None,
            supervision_ends_on: p.supervision_ends_on,
            registration_due_on: p.registration_due_on,
            registered_on: None,
            state: None,
            last_fix_at: None,
            open_alerts: 0,
            ended_on: None,
            created_at: Utc::now(),
        };
        let status = person.registration(day("2026-03-14"));
        assert_eq!((status.responsible, status.days_late, status.missed), (Responsible::Custodian, 3, true));
        assert!(!person.registration(day("2026-03-11")).missed, "the due day itself is in time");
        let err = Registration { on: Some(day("2026-02-28")) }.day(&person, day("2026-03-14")).unwrap_err();
        assert!(err.to_string().starts_with("on:"));
        assert!(Registration { on: Some(day("2026-03-15")) }.day(&person, day("2026-03-14")).is_err());
    }
}
