//! Travel applications: routed by the rules, decided at the right level, and once approved, a
//! permit the supervision loop respects.

use axum::http::{Method, StatusCode};
use chrono::Days;
use liandong::auth::Role;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::harness::TestApp;
use crate::supervision::{alerts, fix_at, supervised, supervised_device, upload};

backend_tests!(
    applications_are_routed_by_the_rules_and_decided_at_the_right_level,
    bad_applications_are_refused,
    an_approved_trip_opens_the_destination_and_the_way_there,
    consultation_and_hearing_come_before_the_decision,
    trips_are_extended_and_regular_permits_listed_for_renewal,
    the_whole_flow_from_application_to_overdue_return,
);

pub fn trip(t: &TestApp, person: Option<i64>, starts_in: u64, days: u64, destinations: &[&str]) -> Value {
    let starts = t.app.today() + Days::new(starts_in);
    json!({
        "person_id": person, "kind": "trip", "destinations": destinations,
        "starts_on": starts, "ends_on": starts + Days::new(days - 1),
        "reason_category": "medical", "reason": "到孝感市中心医院复查",
    })
}

async fn applications_are_routed_by_the_rules_and_decided_at_the_right_level(t: &TestApp) {
    let (county, person, phone) = supervised(t).await;
    let office = t.user("ja-office", Role::OfficeOfficer, "ja").await;
    // The phone applies for its own person: five days, a week ahead → the judicial office.
    let short = t.post("/api/v1/travel-applications", &phone, trip(t, None, 7, 5, &["420900"])).await;
    assert_eq!(short.status, StatusCode::CREATED, "{}", short.body);
    assert_eq!(
        (short.body["decided_by"].as_str(), short.body["notify_procuratorate"].as_bool()),
        (Some("office"), Some(false))
    );
    assert_eq!(short.body["warnings"], json!([]));
    // An officer applies for 31 days starting tomorrow → the city, the procuratorate told, short notice.
    let long = t.post("/api/v1/travel-applications", &county, trip(t, Some(person), 1, 31, &["420902"])).await;
    assert_eq!(
        (long.body["decided_by"].as_str(), long.body["notify_procuratorate"].as_bool()),
        (Some("city"), Some(true))
    );
    let warnings: Vec<&str> =
        long.body["warnings"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert_eq!(warnings, ["short_notice", "overlaps"], "{}", long.body);

    let inbox = t.get("/api/v1/travel-applications?awaiting=me", &office).await;
    let ids: Vec<&Value> = inbox.body["applications"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&short.body["id"]], "the office's inbox holds the office-level one only");

    let me = t.get("/api/v1/me", &phone).await;
    assert_eq!(me.body["applications"].as_array().unwrap().len(), 2, "the phone sees its applications");
    let decide = |id: &Value| format!("/api/v1/travel-applications/{id}/decision");
    let approval = json!({"approve": true, "reason": "就医理由充分"});
    let below = t.post(&decide(&long.body["id"]), &county, approval.clone()).await;
    assert_eq!(below.status, StatusCode::FORBIDDEN, "a county officer below the city level: {}", below.body);
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    assert_eq!(t.post(&decide(&short.body["id"]), &procurator, approval.clone()).await.status, StatusCode::FORBIDDEN);
    // A higher level may decide what a lower one could.
    let approved = t.post(&decide(&short.body["id"]), &county, approval.clone()).await;
    assert_eq!(
        (approved.status, approved.body["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{}",
        approved.body
    );
    assert_eq!(t.post(&decide(&short.body["id"]), &county, approval).await.status, StatusCode::CONFLICT);
    let report = |id: &Value, what: &str| format!("/api/v1/travel-applications/{id}/{what}");
    let arrived = t.call(Method::POST, &report(&short.body["id"], "arrival"), Some(&phone), None).await;
    assert!(arrived.body["arrived_at"].is_string(), "{}", arrived.body);
    let again = t.call(Method::POST, &report(&short.body["id"], "arrival"), Some(&phone), None).await;
    assert_eq!(again.body["arrived_at"], arrived.body["arrived_at"], "the first report stands");
    let not_approved = t.call(Method::POST, &report(&long.body["id"], "return"), Some(&phone), None).await;
    assert_eq!(not_approved.status, StatusCode::CONFLICT);
    let cancel = |id: &Value| format!("/api/v1/travel-applications/{id}/cancel");
    assert_eq!(t.call(Method::POST, &cancel(&short.body["id"]), Some(&phone), None).await.status, StatusCode::CONFLICT);
    let cancelled = t.call(Method::POST, &cancel(&long.body["id"]), Some(&phone), None).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);

    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'travel.%' ORDER BY seq").await;
    assert_eq!(kinds, ["travel.submitted", "travel.submitted", "travel.decided", "travel.arrived", "travel.cancelled"]);
}

async fn bad_applications_are_refused(t: &TestApp) {
    let (county, person, phone) = supervised(t).await;
    let post = |token: &str, body: Value| {
        let token = token.to_owned();
        async move { t.post("/api/v1/travel-applications", &token, body).await }
    };
    let inside = post(&county, trip(t, Some(person), 5, 2, &["420106"])).await;
    assert_eq!((inside.status, inside.field()), (StatusCode::UNPROCESSABLE_ENTITY, "destinations"), "Wuchang is home");
    assert!(inside.body["detail"].as_str().unwrap().contains("武昌区"));
    assert_eq!(post(&county, trip(t, Some(person), 5, 2, &["999999"])).await.field(), "destinations");
    let mut backwards = trip(t, Some(person), 5, 2, &["420900"]);
    backwards["ends_on"] = json!(t.app.today());
    assert_eq!(post(&county, backwards).await.field(), "ends_on");
    let mut past = trip(t, Some(person), 0, 2, &["420900"]);
    past["starts_on"] = json!(t.app.today() - Days::new(1));
    assert_eq!(post(&county, past).await.field(), "starts_on");
    let mut regular = trip(t, Some(person), 5, 200, &["420900"]);
    regular["kind"] = json!("regular");
    regular["schedule"] = json!("每周二去孝感客户处");
    assert_eq!(post(&county, regular).await.field(), "ends_on", "longer than six months");
    let other = t.enrol(&county).await;
    assert_eq!(post(&phone, trip(t, Some(other), 5, 2, &["420900"])).await.status, StatusCode::FORBIDDEN);
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-county", Role::CountyOfficer, "420106").await;
    assert_eq!(post(&wuchang, trip(t, Some(person), 5, 2, &["420900"])).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.count("travel_applications").await, 0, "nothing written");
}

async fn an_approved_trip_opens_the_destination_and_the_way_there(t: &TestApp) {
    let (county, person, device) = supervised_device(t).await;
    let phone = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    // A trip to Xiaogan starting today.
    let applied = t.post("/api/v1/travel-applications", &phone, trip(t, None, 0, 3, &["420900"])).await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.body);
    let path = format!("/api/v1/travel-applications/{}/decision", applied.body["id"]);
    let approved = t.post(&path, &county, json!({"approve": true, "reason": "同意"})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let now = t.app.clock.now();
    // On the way through Ezhou (neither Wuhan nor Xiaogan) on the first day: in transit.
    let ezhou = upload(t, &phone, vec![fix_at("e1", now, 114.89, 30.39, 20.0)]).await;
    assert_eq!(ezhou["state"], "in_transit", "{ezhou}");
    // At the destination: away with permission.
    let there = upload(t, &phone, vec![fix_at("x1", now + chrono::Duration::seconds(1), 113.92, 30.92, 20.0)]).await;
    assert_eq!((there["state"].as_str(), there["placement"].as_str()), (Some("away_permitted"), Some("inside")));
    assert!(alerts(t, &county, &format!("person_id={person}")).await.is_empty(), "no absence");

    // The trip (three days from today) ends; twelve hours' grace later the person, last seen in
    // Xiaogan, is overdue: the scheduler raises it without waiting for a fix.
    let tz = chrono_tz::Asia::Shanghai;
    let end = (t.app.today() + Days::new(3)).and_hms_opt(0, 0, 0).unwrap().and_local_timezone(tz).unwrap();
    let in_grace = (end.with_timezone(&chrono::Utc) + chrono::Duration::hours(11) - t.app.clock.now()).num_seconds();
    let jobs = t.advance(in_grace).await;
    assert_eq!(jobs["overdue_returns"], 0, "within the grace: {jobs}");
    assert_eq!(t.advance(2 * 3600).await["overdue_returns"], 1);
    let county = t.jiangan_token().await;
    // (The phone was silent for days too: that is lost contact, an alert of its own.)
    let found = alerts(t, &county, &format!("person_id={person}&kind=overdue_return")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["evidence"]["application_id"], applied.body["id"]);
    let absences = format!("person_id={person}&kind=unapproved_absence");
    assert!(alerts(t, &county, &absences).await.is_empty(), "it replaces an absence alert");
    // Fixes still in Xiaogan join that episode; none opens an absence.
    let phone = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let now = t.app.clock.now();
    let away = vec![
        fix_at("x2", now - chrono::Duration::minutes(20), 113.92, 30.92, 20.0),
        fix_at("x3", now, 113.93, 30.92, 20.0),
    ];
    assert_eq!(upload(t, &phone, away).await["state"], "absent");
    assert!(alerts(t, &county, &absences).await.is_empty());
    let home = upload(t, &phone, vec![fix_at("h", now + chrono::Duration::seconds(1), 114.30, 30.62, 10.0)]).await;
    assert_eq!(home["state"], "inside");
    assert!(alerts(t, &county, "kind=overdue_return").await[0]["episode_ended_at"].is_string());
}

async fn consultation_and_hearing_come_before_the_decision(t: &TestApp) {
    let (county, person, _) = supervised(t).await;
    let applied = t.post("/api/v1/travel-applications", &county, trip(t, Some(person), 7, 10, &["420900"])).await;
    let id = applied.body["id"].clone();
    let path = |what: &str| format!("/api/v1/travel-applications/{id}/{what}");
    let deadline = (t.app.clock.now() + chrono::Duration::days(2)).to_rfc3339();
    let past = t
        .post(&path("consultation"), &county, json!({"question": "是否同意?", "deadline": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!(past.field(), "deadline");
    let asked = t
        .post(
            &path("consultation"),
            &county,
            json!({"question": "该对象申请赴孝感就医十天，请提出意见", "deadline": deadline}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let opinion_path = format!("/api/v1/consultations/{}/opinion", asked.body["id"]);
    let oppose = json!({"stance": "oppose", "text": "近期有违规记录，不宜外出"});
    t.office("wc", "420106").await;
    let wuchang = t.user("wc-proc", Role::Procurator, "420106").await;
    assert_eq!(
        t.post(&opinion_path, &wuchang, oppose.clone()).await.status,
        StatusCode::NOT_FOUND,
        "another jurisdiction"
    );
    assert_eq!(
        t.post(&opinion_path, &county, oppose.clone()).await.status,
        StatusCode::FORBIDDEN,
        "officers ask, not answer"
    );
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    let answered = t.post(&opinion_path, &procurator, oppose.clone()).await;
    assert_eq!(
        (answered.status, answered.body["stance"].as_str()),
        (StatusCode::OK, Some("oppose")),
        "{}",
        answered.body
    );
    assert_eq!(t.post(&opinion_path, &procurator, oppose).await.status, StatusCode::OK, "a retry");
    let changed = json!({"stance": "support", "text": "同意"});
    assert_eq!(t.post(&opinion_path, &procurator, changed).await.status, StatusCode::CONFLICT);

    let hearing =
        json!({"at": deadline, "place": "江岸区社区矫正中心", "participants": ["矫正官 李", "检察官 王", "本人"]});
    assert_eq!(t.post(&path("hearing"), &county, hearing).await.status, StatusCode::CREATED);
    let outcome = t.post(&path("hearing/outcome"), &county, json!({"outcome": "多数意见同意，附条件每日报告"})).await;
    assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.body);
    assert_eq!(t.post(&path("hearing/outcome"), &county, json!({"outcome": "x"})).await.status, StatusCode::CONFLICT);

    let terse = t.post(&path("decision"), &county, json!({"approve": true, "reason": "同意"})).await;
    assert_eq!(
        (terse.status, terse.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        "against an opposing opinion"
    );
    let reasoned = json!({"approve": true, "reason": "经听证，就医确有必要，已要求每日报告位置"});
    assert_eq!(t.post(&path("decision"), &county, reasoned).await.status, StatusCode::OK);
    let detail = t.get(&format!("/api/v1/travel-applications/{id}"), &procurator).await;
    assert_eq!(detail.body["status"], "approved", "{}", detail.body);
    assert_eq!(
        (detail.body["consultations"][0]["stance"].as_str(), detail.body["consultations"][0]["overdue"].as_bool()),
        (Some("oppose"), Some(false))
    );
    assert!(detail.body["hearings"][0]["outcome"].is_string());
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind LIKE 'travel.%' ORDER BY seq").await;
    assert_eq!(
        kinds,
        [
            "travel.submitted",
            "travel.consultation_asked",
            "travel.opinion_given",
            "travel.hearing_scheduled",
            "travel.hearing_held",
            "travel.decided"
        ]
    );
    let decided = t.raw().strings("SELECT data FROM oversight_events WHERE kind = 'travel.decided'").await;
    assert!(decided[0].contains(r#""against_opinion":true"#), "{}", decided[0]);
}

async fn trips_are_extended_and_regular_permits_listed_for_renewal(t: &TestApp) {
    let (county, person, phone) = supervised(t).await;
    let office = t.user("ja-office", Role::OfficeOfficer, "ja").await;
    let applied = t.post("/api/v1/travel-applications", &phone, trip(t, None, 7, 5, &["420900"])).await;
    let id = applied.body["id"].clone();
    let approve = json!({"approve": true, "reason": "同意"});
    t.post(&format!("/api/v1/travel-applications/{id}/decision"), &office, approve.clone()).await;
    // Five days become nine: the county decides the extension.
    let new_end = t.app.today() + Days::new(7 + 8);
    let extension = json!({"ends_on": new_end, "reason": "复查需住院观察"});
    let path = format!("/api/v1/travel-applications/{id}/extension");
    let asked = t.post(&path, &phone, extension.clone()).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    assert_eq!((asked.body["decided_by"].as_str(), asked.body["extends"].as_i64()), (Some("county"), id.as_i64()));
    assert_eq!(t.post(&path, &phone, extension).await.status, StatusCode::CONFLICT, "one waiting at a time");
    let shorter = t.post(&path, &phone, json!({"ends_on": t.app.today() + Days::new(8), "reason": "x"})).await;
    assert_eq!(shorter.field(), "ends_on");
    let decide = format!("/api/v1/travel-applications/{}/decision", asked.body["id"]);
    assert_eq!(t.post(&decide, &office, approve.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.post(&decide, &county, approve.clone()).await.status, StatusCode::OK);
    let trip_now = t.get(&format!("/api/v1/travel-applications/{id}"), &county).await;
    assert_eq!(trip_now.body["ends_on"], json!(new_end), "the approval moved the trip's end");

    let today = t.app.today();
    let regular = json!({
        "person_id": person, "kind": "regular", "destinations": ["420900"], "starts_on": today,
        "ends_on": today + Days::new(10), "reason_category": "work", "reason": "每周到孝感客户处",
        "schedule": "每周二",
    });
    let permit = t.post("/api/v1/travel-applications", &county, regular).await;
    assert_eq!(permit.body["decided_by"], "county", "{}", permit.body);
    t.post(&format!("/api/v1/travel-applications/{}/decision", permit.body["id"]), &county, approve).await;
    // A check-in at the destination reports a visit.
    let visit = upload(t, &phone, vec![fix_at("v1", t.app.clock.now(), 113.92, 30.92, 20.0)]).await;
    assert_eq!(visit["state"], "away_permitted", "{visit}");
    let shown = t.get(&format!("/api/v1/travel-applications/{}", permit.body["id"]), &county).await;
    assert!(shown.body["arrived_at"].is_string(), "{}", shown.body);
    let expiring = t.get("/api/v1/travel-applications?expiring=true", &county).await;
    let ids: Vec<&Value> = expiring.body["applications"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&permit.body["id"]], "{}", expiring.body);
    let kinds = t.raw().strings("SELECT kind FROM oversight_events WHERE kind = 'travel.extension_requested'").await;
    assert_eq!(kinds.len(), 1);
    let visits = t.raw().strings("SELECT data FROM oversight_events WHERE kind = 'travel.arrived'").await;
    assert!(visits.len() == 1 && visits[0].contains("by_checkin"), "{visits:?}");
}

/// apply → consult → opinion → hearing → approve → on the way on the first day: in transit →
/// at the destination: no alert → not back after the end: overdue_return.
async fn the_whole_flow_from_application_to_overdue_return(t: &TestApp) {
    let (county, person, device) = supervised_device(t).await;
    let phone = t.device_token(&device).await.body["access_token"].as_str().unwrap().to_owned();
    let procurator = t.user("ja-proc", Role::Procurator, "420102").await;
    let applied = t.post("/api/v1/travel-applications", &phone, trip(t, None, 0, 2, &["420900"])).await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.body);
    let id = applied.body["id"].clone();
    let path = |what: &str| format!("/api/v1/travel-applications/{id}/{what}");
    let deadline = (t.app.clock.now() + chrono::Duration::hours(4)).to_rfc3339();
    let asked = t.post(&path("consultation"), &county, json!({"question": "请提出意见", "deadline": deadline})).await;
    let opinion = json!({"stance": "conditional", "text": "同意，但须每日报告"});
    let given = t.post(&format!("/api/v1/consultations/{}/opinion", asked.body["id"]), &procurator, opinion).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.body);
    let hearing = json!({"at": deadline, "place": "江岸区社区矫正中心", "participants": ["矫正官", "检察官", "本人"]});
    assert_eq!(t.post(&path("hearing"), &county, hearing).await.status, StatusCode::CREATED);
    assert_eq!(t.post(&path("hearing/outcome"), &county, json!({"outcome": "同意"})).await.status, StatusCode::OK);
    let approved = t.post(&path("decision"), &county, json!({"approve": true, "reason": "附条件同意"})).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);

    let now = t.app.clock.now();
    // (Fixes from now on: a trip starting today opens at local midnight.)
    let on_the_way = upload(t, &phone, vec![fix_at("w", now, 114.89, 30.39, 20.0)]).await;
    assert_eq!(on_the_way["state"], "in_transit");
    let there = upload(t, &phone, vec![fix_at("d", now + chrono::Duration::seconds(1), 113.92, 30.92, 20.0)]).await;
    assert_eq!(there["state"], "away_permitted");
    assert!(alerts(t, &county, &format!("person_id={person}")).await.is_empty());

    let tz = chrono_tz::Asia::Shanghai;
    let end = (t.app.today() + Days::new(2)).and_hms_opt(0, 0, 0).unwrap().and_local_timezone(tz).unwrap();
    let after_grace = (end.with_timezone(&chrono::Utc) + chrono::Duration::hours(13) - t.app.clock.now()).num_seconds();
    assert_eq!(t.advance(after_grace).await["overdue_returns"], 1);
    let county = t.jiangan_token().await;
    let overdue = alerts(t, &county, &format!("person_id={person}&kind=overdue_return")).await;
    assert_eq!(overdue.len(), 1);
    assert!(alerts(t, &county, &format!("person_id={person}&kind=unapproved_absence")).await.is_empty());
}
