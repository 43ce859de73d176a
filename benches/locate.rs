//! Locating fixes on the real boundaries: 1,000,000 random WGS-84 points over the Wuhan area and
//! over Hubei, alone and with each fix also checked against 10,000 exclusion zones.
//!
//! `cargo bench --bench locate` (one core; figures in fixes per second).

use std::hint::black_box;
use std::sync::Arc;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use liandong::geofence::{Crs, Geofences, Zone, ZoneGeometry, ZoneIndex, ZoneShape};
use liandong::units::Units;

const N: usize = 1_000_000;
const WUHAN: (f64, f64, f64, f64) = (113.68, 29.97, 115.08, 31.36);
const HUBEI: (f64, f64, f64, f64) = (108.36, 29.03, 116.13, 33.27);

/// Deterministic uniform points (xorshift), so every run measures the same fixes.
fn points(n: usize, (x0, y0, x1, y1): (f64, f64, f64, f64), mut seed: u64) -> Vec<(f64, f64)> {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n).map(|_| (x0 + (x1 - x0) * next(), y0 + (y1 - y0) * next())).collect()
}

/// 10,000 zones over the Wuhan area, for 5,000 persons: half circles of 50–500 m, half
/// ten-sided polygons of about the same size.
fn zones() -> ZoneIndex {
    let centres = points(10_000, WUHAN, 99);
    let zones = centres
        .iter()
        .enumerate()
        .map(|(i, &(lon, lat))| {
            let size = 50.0 + (i % 10) as f64 * 50.0;
            let geometry = if i % 2 == 0 {
                ZoneGeometry::Point([lon, lat])
            } else {
                let r = size / 111_000.0;
                let mut ring: Vec<[f64; 2]> = (0..10)
                    .map(|k| {
                        let a = k as f64 * std::f64::consts::TAU / 10.0;
                        [lon + r * a.cos() / lat.to_radians().cos(), lat + r * a.sin()]
                    })
                    .collect();
                ring.push(ring[0]);
                ZoneGeometry::Polygon(vec![ring])
            };
            let radius = (i % 2 == 0).then_some(size);
            let shape = ZoneShape::parse(&geometry, radius, Crs::Wgs84).expect("valid zone");
            Zone { id: i as i64, person_id: (i % 5_000) as i64, shape, valid_from: None, valid_until: None }
        })
        .collect();
    ZoneIndex::new(zones)
}

fn locate(c: &mut Criterion) {
    let engine = Geofences::bundled(Arc::new(Units::bundled().unwrap())).unwrap();
    let wuhan = points(N, WUHAN, 1);
    let hubei = points(N, HUBEI, 2);
    let index = zones();
    let now = Utc::now();

    let mut group = c.benchmark_group("locate");
    group.throughput(Throughput::Elements(N as u64)).sample_size(10);
    for (name, fixes) in [("wuhan", &wuhan), ("hubei", &hubei)] {
        group.bench_function(name, |b| {
            b.iter(|| fixes.iter().filter(|&&(lon, lat)| engine.locate(lon, lat).is_some()).count())
        });
    }
    group.bench_function("wuhan+10k zones", |b| {
        b.iter(|| {
            let mut hits = 0;
            for (i, &(lon, lat)) in wuhan.iter().enumerate() {
                black_box(engine.locate(lon, lat));
                hits += index.check((i % 5_000) as i64, lon, lat, 20.0, now).len();
            }
            hits
        })
    });
    group.finish();
}

criterion_group!(benches, locate);
criterion_main!(benches);
