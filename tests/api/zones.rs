//! Exclusion zones: drawn by officers in scope, checked, kept as drawn, logged without places.

use axum::http::{Method, StatusCode};
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::{call, TestApp};

backend_tests!(an_officer_draws_zones_in_any_frame, bad_zones_are_refused_and_nothing_is_written);

fn square(lon: f64, lat: f64, d: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]})
}

async fn an_officer_draws_zones_in_any_frame(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    let path = format!("/api/v1/persons/{person}/zones");
    let bar = json!({
        "name": "汉口酒吧街", "basis": "(2026)鄂0102刑初123号 禁止令第一项",
        "geometry": {"type": "Point", "coordinates": [114.3, 30.6]}, "radius_m": 200.0, "crs": "gcj02",
        "valid_from": "2026-03-01T00:00:00Z", "valid_until": "2027-03-01T00:00:00Z",
    });
    let circle = t.post(&path, &officer, bar).await;
    assert_eq!(circle.status, StatusCode::CREATED, "{}", circle.body);
    assert_eq!((circle.body["crs"].as_str(), circle.body["radius_m"].as_f64()), (Some("gcj02"), Some(200.0)));
    assert_eq!(circle.body["geometry"]["coordinates"], json!([114.3, 30.6]), "kept as drawn");
    let school = json!({"name": "school", "basis": "禁止令第二项", "geometry": square(114.31, 30.61, 0.002)});
    let headers = [("idempotency-key", "zone-1")];
    let polygon = call(&t.router(), Method::POST, &path, Some(&officer), Some(school.clone()), &headers).await;
    assert_eq!(polygon.status, StatusCode::CREATED, "{}", polygon.body);
    assert_eq!(polygon.body["crs"], "wgs84", "WGS-84 unless told otherwise");
    let retry = call(&t.router(), Method::POST, &path, Some(&officer), Some(school), &headers).await;
    assert_eq!((retry.status, &retry.body["id"]), (StatusCode::OK, &polygon.body["id"]));

    let listed = t.get(&path, &officer).await;
    assert_eq!(listed.body["zones"].as_array().unwrap().len(), 2);
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    assert_eq!(t.get(&path, &procurator).await.body["zones"].as_array().unwrap().len(), 2);
    let events = t.app.store.events_after(0, 1000).await.unwrap();
    let created: Vec<_> = events.iter().filter(|e| e.kind == "zone.created").collect();
    assert_eq!(created.len(), 2);
    assert!(
        created.iter().all(|e| !e.data.contains("114.3") && !e.data.contains("coordinates")),
        "no places in the log"
    );
}

async fn bad_zones_are_refused_and_nothing_is_written(t: &TestApp) {
    let officer = t.jiangan_officer().await;
    let person = t.enrol(&officer).await;
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", Role::CountyOfficer, "420106").await;
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    let path = format!("/api/v1/persons/{person}/zones");
    let zone = |geometry: Value, radius: Option<f64>| json!({"name": "bar", "basis": "禁止令", "geometry": geometry, "radius_m": radius});
    let point = json!({"type": "Point", "coordinates": [114.3, 30.6]});
    let unclosed = json!({"type": "Polygon", "coordinates": [[[114.3, 30.6], [114.31, 30.6], [114.31, 30.61]]]});
    let bowtie = json!({"type": "Polygon", "coordinates":
        [[[114.3, 30.6], [114.31, 30.61], [114.31, 30.6], [114.3, 30.61], [114.3, 30.6]]]});
    let cases = [
        (zone(point.clone(), None), "radius_m"),
        (zone(point.clone(), Some(0.0)), "radius_m"),
        (zone(point.clone(), Some(80_000.0)), "radius_m"),
        (zone(json!({"type": "Point", "coordinates": [2.35, 48.85]}), Some(100.0)), "geometry"),
        (zone(json!({"type": "Point", "coordinates": [114.3, 95.0]}), Some(100.0)), "geometry.coordinates"),
        (zone(unclosed, None), "geometry.coordinates"),
        (zone(bowtie, None), "geometry"),
        (zone(json!({"type": "LineString", "coordinates": [[114.3, 30.6], [114.4, 30.7]]}), None), "geometry.type"),
        (json!({"name": "bar", "basis": "禁止令", "geometry": point.clone(), "radius_m": 50.0, "crs": "utm"}), "crs"),
        (json!({"name": "", "basis": "禁止令", "geometry": point.clone(), "radius_m": 50.0}), "name"),
        (
            json!({"name": "bar", "basis": "x", "geometry": point.clone(), "radius_m": 50.0,
                   "valid_from": "2026-05-01T00:00:00Z", "valid_until": "2026-04-01T00:00:00Z"}),
            "valid_until",
        ),
    ];
    for (body, field) in cases {
        let reply = t.post(&path, &officer, body).await;
        assert_eq!((reply.status, reply.field()), (StatusCode::UNPROCESSABLE_ENTITY, field), "{}", reply.body);
    }
    let good = zone(point, Some(100.0));
    assert_eq!(t.post(&path, &wuchang, good.clone()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.post(&path, &procurator, good.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.post("/api/v1/persons/999/zones", &officer, good).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.count("zones").await, 0);
}
