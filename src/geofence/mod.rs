//! The geofence engine: in which county is a fix, may the person be there, and is it inside one
//! of their exclusion zones. Real boundaries in memory (no HTTP, no SQL here): a grid answers most
//! fixes outright, banded edge lists answer the rest exactly, R-trees serve distances and zones.

mod area;
pub mod crs;
mod grid;
mod load;
mod pip;
mod zones;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use geo::ChamberlainDuquetteArea;

pub use area::{Allowance, Area, Extra, Judgement, Placement};
pub use crs::Crs;
pub use load::County;
pub use zones::{Zone, ZoneGeometry, ZoneHit, ZoneIndex, ZoneShape};

use crate::units::{Kind, Level, Units};
use crate::{Error, Result};

/// Allowed areas kept built at once.
const MAX_CACHED_AREAS: usize = 4096;

/// Index of a county in the engine.
pub type CountyId = u32;

pub struct Geofences {
    counties: Vec<County>,
    by_adcode: HashMap<String, CountyId>,
    grid: grid::Grid,
    units: Arc<Units>,
    areas: Mutex<HashMap<Vec<CountyId>, Arc<Area>>>,
    /// Allowed areas by residence: every upload asks, and the answer never changes.
    residences: Mutex<HashMap<String, Arc<Area>>>,
}

impl Geofences {
    /// Loads the bundled boundaries (Hubei at full precision, the rest of China simplified).
    pub fn bundled(units: Arc<Units>) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        let engine = Self::new(load::bundled()?, units);
        let (grid, bands, _) = engine.memory_report();
        tracing::debug!(
            load_ms = started.elapsed().as_millis() as u64,
            grid_mb = grid >> 20,
            edge_index_mb = bands >> 20,
            "boundaries loaded"
        );
        Ok(engine)
    }

    pub fn new(counties: Vec<County>, units: Arc<Units>) -> Self {
        let grid = grid::Grid::build(&counties);
        let mut by_adcode = HashMap::new();
        for (i, c) in counties.iter().enumerate() {
            by_adcode.entry(c.adcode.clone()).or_insert(i as CountyId);
        }
        let (areas, residences) = (Mutex::new(HashMap::new()), Mutex::new(HashMap::new()));
        Geofences { counties, by_adcode, grid, units, areas, residences }
    }

    /// The administrative-unit table the engine was built with.
    pub fn units(&self) -> &Arc<Units> {
        &self.units
    }

    pub fn county(&self, id: CountyId) -> &County {
        &self.counties[id as usize]
    }

    pub fn county_id(&self, adcode: &str) -> Option<CountyId> {
        self.by_adcode.get(adcode).copied()
    }

    pub fn len(&self) -> usize {
        self.counties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counties.is_empty()
    }

    /// The county-level unit a WGS-84 position lies in, exactly on the real polygons.
    #[inline]
    pub fn locate(&self, lon: f64, lat: f64) -> Option<CountyId> {
        match self.grid.lookup(lon, lat)? {
            Ok(county) => Some(county),
            Err(candidates) => candidates.iter().copied().find(|&c| self.counties[c as usize].bands.contains(lon, lat)),
        }
    }

    /// The counties a unit stands for: a county-level unit itself, a city all its county-level
    /// units (a trip "to Shenzhen" opens every district of 440300).
    pub fn expand(&self, field: &str, adcode: &str) -> Result<Vec<CountyId>> {
        let unknown = || Error::invalid(field, format!("{adcode} is not a known county- or city-level adcode"));
        if let Some(id) = self.units.get(adcode, Level::County).and(self.county_id(adcode)) {
            return Ok(vec![id]);
        }
        self.units.get(adcode, Level::City).ok_or_else(unknown)?;
        let mut ids: Vec<CountyId> = self
            .counties
            .iter()
            .enumerate()
            .filter(|(_, c)| self.units.county(&c.adcode).is_some_and(|p| p.city == adcode))
            .map(|(i, _)| i as CountyId)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Err(unknown());
        }
        Ok(ids)
    }

    /// The area a resident of `residence` may move in without approval (domain.md §3): a
    /// district's whole city (its districts, not its counties); any other unit itself.
    pub fn allowed_area(&self, residence: &str) -> Result<Arc<Area>> {
        if let Some(area) = self.residences.lock().unwrap_or_else(|p| p.into_inner()).get(residence) {
            return Ok(area.clone());
        }
        let area = self.build_allowed_area(residence)?;
        // At most one entry per county-level unit: no bound needed.
        self.residences.lock().unwrap_or_else(|p| p.into_inner()).insert(residence.to_owned(), area.clone());
        Ok(area)
    }

    fn build_allowed_area(&self, residence: &str) -> Result<Arc<Area>> {
        let unit = self
            .units
            .get(residence, Level::County)
            .ok_or_else(|| Error::invalid("residence_adcode", format!("{residence} is not a county-level unit")))?;
        let members: Vec<CountyId> = match (unit.kind, &unit.parent) {
            (Some(Kind::District), Some(parent)) => {
                self.units_of_kind_under(parent, Kind::District).filter_map(|adcode| self.county_id(adcode)).collect()
            }
            _ => self.county_id(residence).into_iter().collect(),
        };
        if members.is_empty() {
            return Err(Error::invalid("residence_adcode", format!("no boundary is known for {residence}")));
        }
        Ok(self.area(members))
    }

    fn units_of_kind_under<'a>(&'a self, parent: &'a str, kind: Kind) -> impl Iterator<Item = &'a str> + 'a {
        self.counties.iter().map(|c| c.adcode.as_str()).filter(move |adcode| {
            self.units
                .get(adcode, Level::County)
                .is_some_and(|u| u.kind == Some(kind) && u.parent.as_deref() == Some(parent))
        })
    }

    /// The area made of exactly these counties (built once, then shared).
    pub fn area(&self, mut members: Vec<CountyId>) -> Arc<Area> {
        members.sort_unstable();
        members.dedup();
        let mut areas = self.areas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(area) = areas.get(&members) {
            return area.clone();
        }
        let area = Arc::new(Area::build(self, members.clone()));
        // Combinations of permits are few at a time; forgetting them all now and then bounds the
        // cache without bookkeeping.
        if areas.len() >= MAX_CACHED_AREAS {
            areas.clear();
        }
        areas.insert(members, area.clone());
        area
    }

    /// Square kilometres of a county (ellipsoidal approximation).
    pub fn county_km2(&self, id: CountyId) -> f64 {
        self.counties[id as usize].shape.chamberlain_duquette_unsigned_area() / 1e6
    }

    /// Heap bytes of the grid and edge indexes, and the share of tiles cut into cells.
    pub fn memory_report(&self) -> (usize, usize, f64) {
        let (grid_bytes, detailed) = self.grid.stats();
        let bands: usize = self.counties.iter().map(|c| c.bands.heap_bytes()).sum();
        (grid_bytes, bands, detailed)
    }
}

#[cfg(test)]
mod tests;
