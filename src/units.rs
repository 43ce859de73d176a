//! Administrative units (行政区划): the table every residence, office and destination adcode is
//! validated against, loaded once at start-up from `geofences/adcodes.csv`.
//!
//! One code can stand at two levels: a standalone unit (仙桃, 东莞…) is both a city and a county,
//! and Chongqing's city entry shares the province's code 500000.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// The table as shipped, compiled into the binary so that a fresh clone needs nothing else.
const BUNDLED: &str = include_str!("../geofences/adcodes.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    County,
}

/// What kind of county-level unit this is: decides the area a resident may move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 市辖区: with the other districts of its city it forms the area of the 市.
    District,
    /// 县, 自治县, 旗, 林区…
    County,
    /// 县级市
    CountyCity,
    /// A unit with no districts directly under the province (东莞, 仙桃…): city and county at once.
    Standalone,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Unit {
    pub adcode: String,
    pub name: String,
    pub level: Level,
    #[serde(deserialize_with = "empty_as_none")]
    pub kind: Option<Kind>,
    #[serde(deserialize_with = "empty_as_none")]
    pub parent: Option<String>,
}

fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    T::deserialize(serde::de::value::StringDeserializer::<D::Error>::new(s)).map(Some)
}

/// Where a county-level unit sits: itself, its city and its province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountyPlace {
    pub county: String,
    pub city: String,
    pub province: String,
}

#[derive(Debug, Default)]
pub struct Units {
    by_level: HashMap<(String, Level), Unit>,
}

impl Units {
    /// The table compiled into the binary.
    pub fn bundled() -> anyhow::Result<Self> {
        Self::parse(BUNDLED.as_bytes()).context("bundled geofences/adcodes.csv")
    }

    /// The table named by the `units_file` setting, or the bundled one.
    pub fn load(units_file: Option<&Path>) -> anyhow::Result<Self> {
        match units_file {
            Some(path) => Self::from_file(path).context("invalid setting units_file"),
            None => Self::bundled(),
        }
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&bytes[..]).with_context(|| format!("parsing {}", path.display()))
    }

    fn parse(csv_bytes: &[u8]) -> anyhow::Result<Self> {
        let mut by_level = HashMap::new();
        for (line, row) in csv::Reader::from_reader(csv_bytes).deserialize::<Unit>().enumerate() {
            let unit = row.with_context(|| format!("row {}", line + 2))?;
            anyhow::ensure!(is_adcode_shape(&unit.adcode), "row {}: bad adcode", line + 2);
            by_level.insert((unit.adcode.clone(), unit.level), unit);
        }
        anyhow::ensure!(!by_level.is_empty(), "no administrative units");
        Ok(Units { by_level })
    }

    pub fn len(&self) -> usize {
        self.by_level.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_level.is_empty()
    }

    pub fn get(&self, adcode: &str, level: Level) -> Option<&Unit> {
        self.by_level.get(&(adcode.to_owned(), level))
    }

    /// Any unit with this code, preferring the most specific level.
    pub fn any(&self, adcode: &str) -> Option<&Unit> {
        [Level::County, Level::City, Level::Province].into_iter().find_map(|l| self.get(adcode, l))
    }

    /// A county-level unit and the city and province it belongs to.
    pub fn county(&self, adcode: &str) -> Option<CountyPlace> {
        let unit = self.get(adcode, Level::County)?;
        let city = match unit.kind {
            Some(Kind::Standalone) => unit.adcode.clone(),
            _ => unit.parent.clone()?,
        };
        let province = match self.get(&city, Level::City) {
            Some(c) => c.parent.clone().unwrap_or_else(|| city.clone()),
            None => city.clone(),
        };
        Some(CountyPlace { county: unit.adcode.clone(), city, province })
    }

    /// Validates a field that must name a county-level unit.
    pub fn require_county(&self, field: &str, adcode: &str) -> crate::Result<CountyPlace> {
        if !is_adcode_shape(adcode) {
            return Err(crate::Error::invalid(field, "must be a 6-digit administrative division code"));
        }
        self.county(adcode).ok_or_else(|| match self.any(adcode) {
            Some(u) => crate::Error::invalid(field, format!("{adcode} ({}) is not a county-level unit", u.name)),
            None => crate::Error::invalid(field, format!("{adcode} is not a known administrative division code")),
        })
    }

    /// The county-level units of a city (a standalone unit is its own only one), sorted.
    pub fn counties_in(&self, city: &str) -> Vec<String> {
        let mut counties: Vec<String> = self
            .by_level
            .values()
            .filter(|u| u.level == Level::County)
            .filter_map(|u| self.county(&u.adcode))
            .filter(|place| place.city == city)
            .map(|place| place.county)
            .collect();
        counties.sort();
        counties
    }

    pub fn name(&self, adcode: &str) -> Option<&str> {
        self.any(adcode).map(|u| u.name.as_str())
    }
}

fn is_adcode_shape(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_has_every_unit_of_china() {
        let units = Units::bundled().unwrap();
        assert_eq!(units.len(), 3279);
        assert_eq!(units.name("420102"), Some("江岸区"));
    }

    #[test]
    fn a_district_belongs_to_its_city_and_province() {
        let units = Units::bundled().unwrap();
        let place = units.county("420102").unwrap();
        assert_eq!((place.city.as_str(), place.province.as_str()), ("420100", "420000"));
        let chongqing = units.county("500103").unwrap();
        assert_eq!((chongqing.city.as_str(), chongqing.province.as_str()), ("500000", "500000"));
    }

    #[test]
    fn a_city_holds_its_districts_and_counties() {
        let units = Units::bundled().unwrap();
        let wuhan = units.counties_in("420100");
        assert_eq!(wuhan.len(), 13, "{wuhan:?}");
        assert!(wuhan.contains(&"420102".to_owned()) && wuhan.contains(&"420106".to_owned()));
        assert_eq!(units.counties_in("429004"), ["429004"]);
    }

    #[test]
    fn a_standalone_unit_is_its_own_city() {
        let units = Units::bundled().unwrap();
        let xiantao = units.county("429004").unwrap();
        assert_eq!((xiantao.city.as_str(), xiantao.province.as_str()), ("429004", "420000"));
    }

    #[test]
    fn cities_and_unknown_codes_are_not_counties() {
        let units = Units::bundled().unwrap();
        let err = units.require_county("residence_adcode", "420100").unwrap_err().to_string();
        assert!(err.contains("residence_adcode") && err.contains("not a county-level unit"), "{err}");
        let err = units.require_county("residence_adcode", "429999").unwrap_err().to_string();
        assert!(err.contains("not a known"), "{err}");
        let err = units.require_county("residence_adcode", "42a102").unwrap_err().to_string();
        assert!(err.contains("6-digit"), "{err}");
    }
}
