//! Who is asking, and what they may do: staff roles and scopes (design.md "Roles"), devices bound
//! to one person, passwords, tokens and login throttling.

mod cache;
mod keys;
pub mod password;
mod service;
mod tokens;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use cache::StatusCache;
pub use keys::SigningKeys;
pub use service::{key_hash, new_device_key, Auth, DeviceToken, LoginToken};
pub use tokens::{DEVICE_AUDIENCE, STAFF_AUDIENCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 司法所: day-to-day supervision of the persons of one office.
    OfficeOfficer,
    /// 区县社区矫正机构: owns the cases of a county.
    CountyOfficer,
    /// 县级司法行政部门负责人: approves electronic-monitoring orders, and only that.
    CountyHead,
    /// 市级社区矫正机构
    CityOfficer,
    /// 人民检察院: reads everything in its jurisdiction, writes nothing to the case file.
    Procurator,
    /// Users, offices, boundary data; no access to case files.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::OfficeOfficer, Role::CountyOfficer, Role::CountyHead, Role::CityOfficer, Role::Procurator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::OfficeOfficer => "office_officer",
            Role::CountyOfficer => "county_officer",
            Role::CountyHead => "county_head",
            Role::CityOfficer => "city_officer",
            Role::Procurator => "procurator",
            Role::Admin => "admin",
        }
    }

    /// May read persons, their state and alerts within scope.
    pub fn reads_cases(self) -> bool {
        self != Role::Admin
    }

    /// May change the case file: enrol, record registration, enrol and revoke devices.
    pub fn writes_cases(self) -> bool {
        matches!(self, Role::OfficeOfficer | Role::CountyOfficer | Role::CityOfficer)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role {s:?}; one of {}", names.join(", "))
        })
    }
}

/// The part of the case file a user works on. Stored as the office id or the adcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Office {
        id: String,
        county: String,
    },
    County(String),
    City(String),
    /// Administrators only: the unit they administer, never case data.
    Region(String),
}

impl Scope {
    /// The chain that events about this user belong to.
    pub fn county(&self) -> &str {
        match self {
            Scope::Office { county, .. } => county,
            Scope::County(c) | Scope::City(c) | Scope::Region(c) => c,
        }
    }

    /// The stored form: an office id or an adcode.
    pub fn stored(&self) -> &str {
        match self {
            Scope::Office { id, .. } => id,
            Scope::County(c) | Scope::City(c) | Scope::Region(c) => c,
        }
    }

    /// Whether a case owned by this office (in this county and city) lies in scope.
    pub fn covers(&self, office: &str, county: &str, city: &str) -> bool {
        match self {
            Scope::Office { id, .. } => id == office,
            Scope::County(c) => c == county,
            Scope::City(c) => c == city,
            Scope::Region(_) => false,
        }
    }
}

/// An authenticated staff member, as every store call that touches case data receives it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
    pub scope: Scope,
}

impl Actor {
    /// How the oversight log names this actor.
    pub fn label(&self) -> String {
        format!("user:{}", self.user_id)
    }
}

/// An authenticated device: it acts for exactly one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceActor {
    pub device_id: i64,
    pub person_id: i64,
    pub kind: DeviceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// 定位手机: the person's positioning phone, the normal method.
    Phone,
    /// 电子定位装置: a tamper-evident wristband, only under a monitoring order.
    Tag,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Phone => "phone",
            DeviceKind::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "phone" => Some(DeviceKind::Phone),
            "tag" => Some(DeviceKind::Tag),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_officers_write_cases_and_admins_read_none() {
        let writers: Vec<_> = Role::ALL.into_iter().filter(|r| r.writes_cases()).collect();
        assert_eq!(writers, [Role::OfficeOfficer, Role::CountyOfficer, Role::CityOfficer]);
        assert!(!Role::Admin.reads_cases() && Role::Procurator.reads_cases());
    }

    #[test]
    fn roles_round_trip_and_unknown_ones_are_named() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("judge".parse::<Role>().unwrap_err().contains("judge"));
    }

    #[test]
    fn scope_covers_by_level() {
        let office = Scope::Office { id: "ja-01".into(), county: "420102".into() };
        assert!(office.covers("ja-01", "420102", "420100"));
        assert!(!office.covers("ja-02", "420102", "420100"));
        assert!(Scope::County("420102".into()).covers("ja-02", "420102", "420100"));
        assert!(!Scope::County("420106".into()).covers("ja-02", "420102", "420100"));
        assert!(Scope::City("420100".into()).covers("wc-01", "420106", "420100"));
        assert!(!Scope::Region("420000".into()).covers("ja-01", "420102", "420100"));
    }
}

/// Checks a new user name: 3–64 lower-case letters, digits, '.', '_' or '-'.
pub fn check_username(name: &str) -> crate::Result<()> {
    let ok = (3..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(crate::Error::invalid("username", "must be 3–64 lower-case letters, digits, '.', '_' or '-'"))
    }
}

/// Resolves the `--scope` given for a role: an office for office officers (looked up by the
/// caller), a county for county officers and heads, a city for city officers, a county or city
/// for procurators, any unit for administrators.
pub fn resolve_scope(
    role: Role,
    scope: &str,
    office: Option<&crate::register::Office>,
    units: &crate::units::Units,
) -> crate::Result<Scope> {
    use crate::units::Level;
    let err = |reason: String| crate::Error::invalid("scope", reason);
    match role {
        Role::OfficeOfficer => office
            .map(|o| Scope::Office { id: o.id.clone(), county: o.county.clone() })
            .ok_or_else(|| err(format!("{scope:?} is not a judicial office; add it with `liandong office add`"))),
        Role::CountyOfficer | Role::CountyHead => Ok(Scope::County(units.require_county("scope", scope)?.county)),
        Role::CityOfficer => units
            .get(scope, Level::City)
            .map(|u| Scope::City(u.adcode.clone()))
            .ok_or_else(|| err(format!("{scope} is not a city-level adcode"))),
        Role::Procurator => match (units.get(scope, Level::County), units.get(scope, Level::City)) {
            (Some(c), _) => Ok(Scope::County(c.adcode.clone())),
            (None, Some(c)) => Ok(Scope::City(c.adcode.clone())),
            _ => Err(err(format!("{scope} is not a county- or city-level adcode"))),
        },
        Role::Admin => units
            .any(scope)
            .map(|u| Scope::Region(u.adcode.clone()))
            .ok_or_else(|| err(format!("{scope} is not a known adcode"))),
    }
}

#[cfg(test)]
mod scope_tests {
    use super::*;
    use crate::units::Units;

    #[test]
    fn each_role_takes_the_scope_of_its_level() {
        let units = Units::bundled().unwrap();
        assert_eq!(resolve_scope(Role::CountyOfficer, "420102", None, &units).unwrap(), Scope::County("420102".into()));
        assert!(resolve_scope(Role::CountyOfficer, "420100", None, &units).is_err());
        assert_eq!(resolve_scope(Role::CityOfficer, "420100", None, &units).unwrap(), Scope::City("420100".into()));
        assert!(resolve_scope(Role::CityOfficer, "420102", None, &units).is_err());
        assert_eq!(resolve_scope(Role::Procurator, "420100", None, &units).unwrap(), Scope::City("420100".into()));
        assert_eq!(resolve_scope(Role::Procurator, "420106", None, &units).unwrap(), Scope::County("420106".into()));
        assert!(resolve_scope(Role::OfficeOfficer, "ja-01", None, &units).is_err());
    }

    #[test]
    fn user_names_are_plain_lower_case() {
        assert!(check_username("li.wei-01").is_ok());
        assert!(check_username("Li Wei").is_err());
        assert!(check_username("lw").is_err());
    }
}
