//! Coordinate frames (domain.md §5): phones report WGS-84; Chinese map SDKs and the boundary data
//! use GCJ-02 (an obfuscating offset of a few hundred metres inside China), Baidu uses BD-09.
//! Everything inside the service is WGS-84; input says its frame and is converted on entry.

use std::f64::consts::PI;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    #[default]
    Wgs84,
    Gcj02,
    Bd09,
}

impl Crs {
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// Converts a position given in this frame to WGS-84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => {
                let (lon, lat) = bd09_to_gcj02(lon, lat);
                gcj02_to_wgs84(lon, lat)
            }
        }
    }

    /// Converts a WGS-84 position to this frame.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => wgs84_to_gcj02(lon, lat),
            Crs::Bd09 => {
                let (lon, lat) = wgs84_to_gcj02(lon, lat);
                gcj02_to_bd09(lon, lat)
            }
        }
    }
}

impl FromStr for Crs {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" => Ok(Crs::Wgs84),
            "gcj02" => Ok(Crs::Gcj02),
            "bd09" => Ok(Crs::Bd09),
            _ => Err(Error::invalid("crs", format!("{s:?} is not one of wgs84, gcj02, bd09"))),
        }
    }
}

/// Checks a position: finite, latitude within ±90, longitude within ±180.
pub fn check_position(lon: f64, lat: f64) -> Result<()> {
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(Error::invalid("lon", "must be a finite number between -180 and 180"));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::invalid("lat", "must be a finite number between -90 and 90"));
    }
    Ok(())
}

// Krasovsky 1940, the ellipsoid of the GCJ-02 offset.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
const X_PI: f64 = PI * 3000.0 / 180.0;

/// GCJ-02 applies no offset outside (a box around) mainland China.
fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn offset(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon - 105.0, lat - 35.0);
    let common = (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    let mut dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt() + common;
    dlat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt() + common;
    dlon += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    dlon += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = dlat * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = dlon * 180.0 / (A / sqrt_magic * rad.cos() * PI);
    (dlon, dlat)
}

pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = offset(lon, lat);
    (lon + dlon, lat + dlat)
}

/// The inverse has no closed form: iterate the forward offset until it lands within 1e-10°
/// (about 10 µm); two or three rounds suffice.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..8 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (elon, elat) = (glon - lon, glat - lat);
        wlon -= elon;
        wlat -= elat;
        if elon.abs() < 1e-10 && elat.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

/// Two fixed rounds of the same iteration: within a few millimetres, at half the cost. For
/// converting a million boundary vertices (themselves accurate to metres) on load.
pub fn gcj02_to_wgs84_fast(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..2 {
        let (dlon, dlat) = offset(wlon, wlat);
        (wlon, wlat) = (lon - dlon, lat - dlat);
    }
    (wlon, wlat)
}

pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Inverse of [`gcj02_to_bd09`], refined by iteration to well under a millimetre.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon - 0.0065, lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let (mut glon, mut glat) = (z * theta.cos(), z * theta.sin());
    for _ in 0..4 {
        let (blon, blat) = gcj02_to_bd09(glon, glat);
        glon -= blon - lon;
        glat -= blat - lat;
    }
    (glon, glat)
}

/// Metres between two WGS-84 positions (haversine on the mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (lat1, lat2) = (a.1.to_radians(), b.1.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.0 - a.0).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Metres from `p` to the segment `a`–`b`, in a local equirectangular projection.
pub fn segment_distance_m(p: (f64, f64), a: (f64, f64), b: (f64, f64), cos: f64) -> f64 {
    let (ax, ay) = ((a.0 - p.0) * cos, a.1 - p.1);
    let (bx, by) = ((b.0 - p.0) * cos, b.1 - p.1);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0) };
    let (cx, cy) = (ax + t * dx, ay + t * dy);
    (cx * cx + cy * cy).sqrt() * 111_194.9
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_pairs_from_published_converters() {
        // Beijing, as every GCJ-02 library documents it.
        let (lon, lat) = wgs84_to_gcj02(116.404, 39.915);
        assert!((lon - 116.410_244_499_169_38).abs() < 1e-9 && (lat - 39.916_404_281_501_64).abs() < 1e-9);
        let (lon, lat) = gcj02_to_bd09(116.404, 39.915);
        assert!((lon - 116.410_369_493_710_29).abs() < 1e-9 && (lat - 39.921_336_993_510_22).abs() < 1e-9);
    }

    #[test]
    fn the_offset_in_wuhan_is_about_590_metres() {
        let wgs = (114.321, 30.643);
        let gcj = wgs84_to_gcj02(wgs.0, wgs.1);
        assert!((gcj.0 - wgs.0 - 0.0054).abs() < 0.0003, "{gcj:?}");
        assert!((gcj.1 - wgs.1 + 0.0024).abs() < 0.0003, "{gcj:?}");
        assert!((distance_m(wgs, gcj) - 590.0).abs() < 30.0);
    }

    #[test]
    fn the_fast_inverse_agrees_within_a_centimetre() {
        for (lon, lat) in [(114.3, 30.6), (87.6, 43.8), (121.5, 25.0), (126.6, 45.7)] {
            assert!(distance_m(gcj02_to_wgs84(lon, lat), gcj02_to_wgs84_fast(lon, lat)) < 0.01);
        }
    }

    #[test]
    fn no_offset_outside_china() {
        assert_eq!(wgs84_to_gcj02(2.35, 48.85), (2.35, 48.85));
        assert_eq!(Crs::Gcj02.to_wgs84(-74.0, 40.7), (-74.0, 40.7));
    }

    #[test]
    fn frames_parse_by_name_and_unknown_ones_are_named() {
        assert_eq!("GCJ02".parse::<Crs>().unwrap(), Crs::Gcj02);
        let err = "utm50".parse::<Crs>().unwrap_err().to_string();
        assert!(err.starts_with("crs:") && err.contains("utm50"));
    }

    #[test]
    fn positions_out_of_range_are_refused() {
        assert!(check_position(114.3, 30.6).is_ok());
        assert!(check_position(f64::NAN, 30.6).unwrap_err().to_string().starts_with("lon"));
        assert!(check_position(114.3, 91.0).unwrap_err().to_string().starts_with("lat"));
        assert!(check_position(f64::INFINITY, 0.0).is_err());
    }

    proptest! {
        #[test]
        fn round_trips_stay_within_a_metre(lon in 73.0f64..135.0, lat in 4.0f64..53.5) {
            for crs in [Crs::Gcj02, Crs::Bd09] {
                let (x, y) = crs.from_wgs84(lon, lat);
                let back = crs.to_wgs84(x, y);
                prop_assert!(distance_m((lon, lat), back) < 1.0, "{:?} {:?}", crs, back);
            }
        }
    }
}
