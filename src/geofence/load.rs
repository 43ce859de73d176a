//! Reading the bundled boundaries: GeoJSON in GCJ-02 (as Amap publishes it), gzip-compressed and
//! compiled into the binary, converted once to WGS-84 on load. Hubei's counties at full precision
//! replace the simplified ones of the national file.

use std::io::Read;

use anyhow::Context;
use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::Deserialize;

use super::crs::gcj02_to_wgs84_fast;
use super::pip::EdgeBands;

const HUBEI: &[u8] = include_bytes!("../../geofences/hubei_counties_gcj02.geojson.gz");
const CHINA: &[u8] = include_bytes!("../../geofences/china_counties_gcj02_simplified.geojson.gz");
/// Counties of this province come from the full-precision file.
const FULL_PRECISION_PROVINCE: &str = "42";

/// A county-level unit's boundary, in WGS-84, ready for point tests.
pub struct County {
    pub adcode: String,
    pub name: String,
    pub shape: MultiPolygon<f64>,
    pub bands: EdgeBands,
    /// From the full-precision file (it wins where boundaries overlap).
    pub full_precision: bool,
}

#[derive(Deserialize)]
struct Collection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    properties: Properties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct Properties {
    adcode: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum Geometry {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

/// The bundled boundaries: Hubei at full precision first, then the rest of China.
pub fn bundled() -> anyhow::Result<Vec<County>> {
    let (hubei, china) = std::thread::scope(|s| {
        let hubei = s.spawn(|| read(HUBEI, true, |_| true));
        let china = read(CHINA, false, |adcode| !adcode.starts_with(FULL_PRECISION_PROVINCE));
        (hubei.join(), china)
    });
    let mut counties = hubei.map_err(|_| anyhow::anyhow!("loading Hubei's boundaries panicked"))?.context("Hubei")?;
    counties.extend(china.context("China")?);
    Ok(counties)
}

fn read(gz: &[u8], full_precision: bool, keep: impl Fn(&str) -> bool + Sync) -> anyhow::Result<Vec<County>> {
    // The gzip trailer holds the uncompressed size: allocate it once instead of doubling.
    let size = gz.len().checked_sub(4).map_or(0, |at| u32::from_le_bytes(gz[at..].try_into().unwrap_or([0; 4])));
    let mut json = Vec::with_capacity(size as usize);
    flate2::read::GzDecoder::new(gz).read_to_end(&mut json).context("decompressing boundaries")?;
    let collection: Collection = serde_json::from_slice(&json).context("parsing boundaries")?;
    drop(json);
    let features: Vec<Feature> = collection.features.into_iter().filter(|f| keep(&f.properties.adcode)).collect();
    // Converting a million vertices out of GCJ-02 is the slow part: share it between the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = features.len().div_ceil(threads).max(1);
    let mut parts: Vec<Vec<Feature>> = Vec::new();
    let mut rest = features;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        parts.push(std::mem::replace(&mut rest, tail));
    }
    let converted: Vec<Vec<County>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(|f| county(f, full_precision)).collect()))
            .collect();
        // A panic in a worker is a bug: re-raise it rather than start with counties missing.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    Ok(converted.into_iter().flatten().collect())
}

fn county(feature: Feature, full_precision: bool) -> County {
    let polygons = match feature.geometry {
        Geometry::Polygon(rings) => vec![polygon(rings)],
        Geometry::MultiPolygon(polygons) => polygons.into_iter().map(polygon).collect(),
    };
    let shape = MultiPolygon(polygons);
    let bands = EdgeBands::new(&shape);
    County { adcode: feature.properties.adcode, name: feature.properties.name, shape, bands, full_precision }
}

fn polygon(rings: Vec<Vec<[f64; 2]>>) -> Polygon<f64> {
    let mut rings = rings.into_iter().map(|ring| {
        LineString(
            ring.into_iter()
                .map(|[lon, lat]| {
                    let (x, y) = gcj02_to_wgs84_fast(lon, lat);
                    Coord { x, y }
                })
                .collect(),
        )
    });
    let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
    Polygon::new(exterior, rings.collect())
}
