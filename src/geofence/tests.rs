//! The engine on the real boundary data, loaded once for all tests of this process.

use std::sync::{Arc, OnceLock};

use chrono::{Duration, Utc};
use geo::{Contains, InteriorPoint, Point};
use proptest::prelude::*;

use super::*;

fn engine() -> &'static Geofences {
    static ENGINE: OnceLock<Geofences> = OnceLock::new();
    ENGINE.get_or_init(|| Geofences::bundled(Arc::new(Units::bundled().unwrap())).unwrap())
}

/// A WGS-84 point certainly inside the county.
fn inside(adcode: &str) -> (f64, f64) {
    let e = engine();
    let p = e.county(e.county_id(adcode).unwrap()).shape.interior_point().unwrap();
    (p.x(), p.y())
}

fn adcode_at(lon: f64, lat: f64) -> Option<&'static str> {
    engine().locate(lon, lat).map(|id| engine().county(id).adcode.as_str())
}

#[test]
fn jiangan_s_centroid_is_in_jiangan() {
    let (lon, lat) = Crs::Gcj02.to_wgs84(114.321, 30.643);
    assert_eq!(adcode_at(lon, lat), Some("420102"));
    assert_eq!(engine().len(), 2875, "Hubei's 103 at full precision and the other 2,772");
}

#[test]
fn a_jiangan_resident_may_be_anywhere_in_wuhan_s_districts_but_not_in_xiaogan() {
    let e = engine();
    let area = e.allowed_area("420102").unwrap();
    assert_eq!(area.members.len(), 13);
    let (lon, lat) = inside("420106");
    let wuchang = area.judge(e, lon, lat, 20.0).unwrap();
    assert_eq!(wuchang.placement, Placement::Inside);
    assert_eq!(wuchang.county, e.county_id("420106"));
    let (lon, lat) = inside("420902");
    let xiaonan = area.judge(e, lon, lat, 20.0).unwrap();
    assert_eq!(xiaonan.placement, Placement::Outside);
    assert!(xiaonan.distance_m > 1_000.0, "{xiaonan:?}");
    let km2: f64 = area.members.iter().map(|&m| e.county_km2(m)).sum();
    assert!((km2 - 8_573.0).abs() < 60.0, "Wuhan's districts cover {km2} km²");
}

#[test]
fn inner_borders_are_not_edges_of_the_area() {
    let e = engine();
    let area = e.allowed_area("420102").unwrap();
    // Near the Jiang'an–Jianghan border, deep inside Wuhan.
    let (lon, lat) = Crs::Gcj02.to_wgs84(114.28, 30.62);
    let j = area.judge(e, lon, lat, 300.0).unwrap();
    assert_eq!(j.placement, Placement::Inside, "{j:?}");
    assert!(j.distance_m < -5_000.0, "{j:?}");
}

#[test]
fn an_accuracy_circle_across_the_edge_is_uncertain() {
    let e = engine();
    let area = e.allowed_area("420102").unwrap();
    // Walk from Wuchang towards Xiaonan until the area is left; just outside the edge a fix
    // whose accuracy reaches back inside is no evidence.
    let (from, to) = (inside("420106"), inside("420902"));
    let mut last_inside = from;
    for step in 0..=4000 {
        let t = step as f64 / 4000.0;
        let p = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
        if area.judge(e, p.0, p.1, 0.0).unwrap().placement == Placement::Outside {
            let d = area.judge(e, p.0, p.1, 0.0).unwrap().distance_m;
            assert!(d < 100.0, "first outside step is near the edge: {d}");
            assert_eq!(area.judge(e, p.0, p.1, d + 50.0).unwrap().placement, Placement::Uncertain);
            assert_eq!(area.judge(e, last_inside.0, last_inside.1, 500.0).unwrap().placement, Placement::Uncertain);
            return;
        }
        last_inside = p;
    }
    panic!("never left the area");
}

#[test]
fn gaps_between_simplified_neighbours_are_no_evidence_of_absence() {
    let e = engine();
    let area = e.allowed_area("110108").unwrap();
    let mut gaps = 0;
    for neighbour in ["110102", "110105", "110106", "110107", "110109", "110114"] {
        let (from, to) = (inside("110108"), inside(neighbour));
        for step in 0..20_000 {
            let t = step as f64 / 20_000.0;
            let (lon, lat) = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            if e.locate(lon, lat).is_none() {
                gaps += 1;
                let j = area.judge(e, lon, lat, 5.0).unwrap();
                assert_ne!(j.placement, Placement::Outside, "a gap inside Beijing at ({lon}, {lat})");
            }
        }
    }
    assert!(gaps > 0, "the simplified data leaves gaps between Haidian and its neighbours");
}

#[test]
fn positions_that_are_not_numbers_are_refused_not_judged() {
    let e = engine();
    let area = e.allowed_area("420102").unwrap();
    assert!(area.judge(e, f64::NAN, 30.6, 10.0).is_err());
    assert!(area.judge(e, 114.3, f64::INFINITY, 10.0).is_err());
    assert!(area.judge(e, 114.3, 30.6, f64::NAN).is_err());
}

#[test]
fn a_haidian_resident_may_move_in_all_of_beijing_s_districts() {
    let e = engine();
    let area = e.allowed_area("110108").unwrap();
    let beijing: Vec<_> = e.expand("destinations", "110100").unwrap();
    assert_eq!(area.members, beijing);
    assert_eq!(area.members.len(), 16);
}

#[test]
fn a_county_resident_may_not_leave_the_county() {
    let e = engine();
    let area = e.allowed_area("421181").unwrap(); // 麻城市, a county-level city
    assert_eq!(area.members, vec![e.county_id("421181").unwrap()]);
    let xiantao = e.allowed_area("429004").unwrap(); // standalone
    assert_eq!(xiantao.members.len(), 1);
    assert!(e.allowed_area("420100").is_err(), "a city is no residence");
}

#[test]
fn a_city_destination_opens_all_its_county_level_units() {
    let e = engine();
    let shenzhen = e.expand("destinations", "440300").unwrap();
    assert!(shenzhen.len() >= 9);
    assert!(shenzhen.iter().all(|&c| e.county(c).adcode.starts_with("4403")));
    assert!(e.expand("destinations", "999999").unwrap_err().to_string().starts_with("destinations"));
}

#[test]
fn the_frame_decides_on_which_side_of_an_edge_a_point_lies() {
    // Scan eastwards across Jiang'an's edge for a position that is in Jiang'an when read as
    // GCJ-02 and elsewhere when (wrongly) read as WGS-84.
    let e = engine();
    let jiangan = e.county_id("420102");
    let found = (0..20_000).map(|i| (114.20 + i as f64 * 0.00001, 30.62)).find(|&(lon, lat)| {
        let (wlon, wlat) = Crs::Gcj02.to_wgs84(lon, lat);
        e.locate(wlon, wlat) == jiangan && e.locate(lon, lat) != jiangan
    });
    let (lon, lat) = found.expect("a position whose county depends on the frame");
    let (wlon, wlat) = Crs::Gcj02.to_wgs84(lon, lat);
    assert_eq!(e.locate(wlon, wlat), jiangan);
    let (blon, blat) = Crs::Bd09.from_wgs84(wlon, wlat);
    let (back_lon, back_lat) = Crs::Bd09.to_wgs84(blon, blat);
    assert_eq!(e.locate(back_lon, back_lat), jiangan, "the same place given in BD-09");
}

#[test]
fn nothing_is_located_outside_china_or_at_bad_positions() {
    assert_eq!(adcode_at(2.35, 48.85), None);
    assert_eq!(adcode_at(f64::NAN, 30.0), None);
    assert_eq!(adcode_at(114.3, f64::INFINITY), None);
}

#[test]
fn permits_open_destinations_only_within_their_window() {
    let e = engine();
    let now = Utc::now();
    let shenzhen = e.expand("destinations", "440300").unwrap();
    let allowance = Allowance {
        base: e.allowed_area("420102").unwrap(),
        extras: vec![Extra { counties: shenzhen.clone(), from: now, until: now + Duration::days(3) }],
    };
    let during = allowance.area_at(e, now + Duration::days(1));
    assert!(shenzhen.iter().all(|&c| during.contains_county(c)));
    assert!(during.contains_county(e.county_id("420102").unwrap()));
    let after = allowance.area_at(e, now + Duration::days(3));
    assert_eq!(after.members.len(), 13);
}

/// What plain geo says: the first county, in the engine's priority order, whose polygon contains
/// the point.
fn reference(lon: f64, lat: f64) -> Option<CountyId> {
    let e = engine();
    (0..e.len() as CountyId).find(|&c| {
        let b = e.county(c).bands.bbox();
        lon >= b.min().x
            && lon <= b.max().x
            && lat >= b.min().y
            && lat <= b.max().y
            && e.county(c).shape.contains(&Point::new(lon, lat))
    })
}

/// Hubei's counties: the first 103 of the engine.
fn hubei() -> impl Strategy<Value = CountyId> {
    0..103u32
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn locate_agrees_with_geo_anywhere_in_hubei(lon in 108.3f64..116.2, lat in 29.0f64..33.3) {
        prop_assert_eq!(engine().locate(lon, lat), reference(lon, lat));
    }

    #[test]
    fn locate_agrees_with_geo_next_to_every_boundary(
        county in hubei(),
        edge in any::<prop::sample::Index>(),
        t in 0.0f64..1.0,
        offset in prop_oneof![-1e-3f64..-1e-7, 1e-7f64..1e-3],
    ) {
        let e = engine();
        let shape = &e.county(county).shape;
        let mut edges = Vec::new();
        pip::EdgeBands::for_each_edge(shape, |a, b| edges.push((a, b)));
        let (a, b) = edges[edge.index(edges.len())];
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-12);
        let (lon, lat) = (a.x + dx * t - dy / len * offset, a.y + dy * t + dx / len * offset);
        prop_assert_eq!(e.locate(lon, lat), reference(lon, lat));
    }
}
