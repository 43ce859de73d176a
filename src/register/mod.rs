//! The case register: judicial offices, the persons under community corrections they supervise,
//! and registration (报到) — the first obligation, whose miss is 漏管.

mod person;
mod zone;

use serde::Serialize;

pub use zone::{Zone, ZoneRequest};

pub use person::{
    Category, Enrolment, NewPerson, Person, PersonFilter, Registration, RegistrationDue, Responsible, SupervisionState,
};

use crate::units::Units;
use crate::{Error, Result};

/// A judicial office (司法所). It belongs to one county; its cases are that county agency's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Office {
    pub id: String,
    pub name: String,
    pub county: String,
    pub city: String,
}

impl Office {
    /// Validates an office as an administrator adds it.
    pub fn new(id: &str, county: &str, name: &str, units: &Units) -> Result<Office> {
        let id_ok =
            (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(Error::invalid("id", "must be 1–40 letters, digits, '-' or '_'"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("name", "must be 1–100 characters"));
        }
        let place = units.require_county("county", county)?;
        Ok(Office { id: id.to_owned(), name: name.to_owned(), county: place.county, city: place.city })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_office_takes_its_city_from_the_county() {
        let units = Units::bundled().unwrap();
        let office = Office::new("ja-dazhi", "420102", " 大智街司法所 ", &units).unwrap();
        assert_eq!((office.city.as_str(), office.name.as_str()), ("420100", "大智街司法所"));
    }

    #[test]
    fn bad_office_fields_are_named() {
        let units = Units::bundled().unwrap();
        let field = |r: Result<Office>| match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(field(Office::new("has space", "420102", "x", &units)), "id");
        assert_eq!(field(Office::new("ja", "420100", "x", &units)), "county");
        assert_eq!(field(Office::new("ja", "420102", "  ", &units)), "name");
    }
}
