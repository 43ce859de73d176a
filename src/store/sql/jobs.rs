//! The scheduler's jobs. Each finds what is due in one query and records it in one transaction
//! per page; conditional updates and the one-episode index make a job that runs twice (or on two
//! instances at once) change nothing the second time.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use sqlx::FromRow;

use super::common::lock_persons;
use super::episodes::{open_alert, NewAlert};
use super::log::append;
use super::{Backend, FOR_UPDATE_SKIP_LOCKED};
use crate::checkin::local_midnight;
use crate::oversight::{EventKind, NewEvent};
use crate::register::Category;
use crate::settings::Policy;
use crate::store::{EndedTrip, JobStore};
use crate::supervision::{AlertKind, Evidence};
use crate::Result;

/// Rows handled per transaction.
const PAGE: i64 = 500;

#[derive(FromRow)]
struct Silent {
    device_id: i64,
    person_id: i64,
    kind: String,
    since: DateTime<Utc>,
    county: String,
}

#[derive(FromRow)]
struct Overdue {
    id: i64,
    person_id: i64,
    requested_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    county: String,
}

#[derive(FromRow)]
struct Unregistered {
    id: i64,
    county: String,
    category: String,
    registration_due_on: NaiveDate,
}

#[async_trait]
impl JobStore for Backend {
    async fn take_lease(&self, job: &str, holder: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (job) DO NOTHING",
        )
        .bind(job)
        .bind(holder)
        .bind(now + ttl)
        .execute(&mut *tx)
        .await?;
        let taken = sqlx::query(
            "UPDATE job_leases SET holder = $2, expires_at = $3, last_run_at = $4 \
             WHERE job = $1 AND (holder = $2 OR expires_at < $4)",
        )
        .bind(job)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(taken.rows_affected() == 1)
    }

    async fn raise_lost_contact(&self, now: DateTime<Utc>, policy: &Policy) -> Result<usize> {
        let phone_silence = now - Duration::hours(policy.phone_lost_contact_hours.into());
        let tag_silence = now - Duration::minutes(policy.tag_lost_contact_minutes.into());
        let mut raised = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let silent: Vec<Silent> = sqlx::query_as(&format!(
                "SELECT d.id AS device_id, d.person_id, d.kind, COALESCE(d.last_fix_at, d.enrolled_at) AS since, \
                 p.county FROM devices d JOIN persons p ON p.id = d.person_id \
                 WHERE d.revoked_at IS NULL AND p.ended_on IS NULL \
                 AND COALESCE(d.last_fix_at, d.enrolled_at) < CASE d.kind WHEN 'phone' THEN $1 ELSE $2 END \
                 AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.person_id = d.person_id AND a.kind = 'lost_contact' \
                                 AND a.episode_ended_at IS NULL) \
                 ORDER BY d.person_id, d.id LIMIT $3{FOR_UPDATE_SKIP_LOCKED}"
            ))
            .bind(phone_silence)
            .bind(tag_silence)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let page = silent.len() as i64;
            for s in &silent {
                let evidence = Evidence {
                    device_id: Some(s.device_id),
                    since: Some(s.since),
                    detail: Some(format!("no fix from the {} since the time given", s.kind)),
                    ..Evidence::default()
                };
                let new = NewAlert::system(s.person_id, &s.county, AlertKind::LostContact, s.since, &evidence);
                if open_alert(&mut tx, &new, now, policy).await?.is_some() {
                    raised += 1;
                    sqlx::query("UPDATE persons SET state = 'lost' WHERE id = $1")
                        .bind(s.person_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            if page < PAGE {
                return Ok(raised);
            }
        }
    }

    async fn raise_missed_checkins(&self, now: DateTime<Utc>, policy: &Policy) -> Result<usize> {
        let mut raised = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let overdue: Vec<Overdue> = sqlx::query_as(&format!(
                "SELECT r.id, r.person_id, r.requested_at, r.deadline, p.county FROM checkin_requests r \
                 JOIN persons p ON p.id = r.person_id WHERE r.answered_at IS NULL AND r.missed_at IS NULL AND r.cancelled_at IS NULL \
                 AND r.deadline < $1 AND p.ended_on IS NULL ORDER BY r.id LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"),
            )
            .bind(now)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let page = overdue.len() as i64;
            for r in &overdue {
                // Conditional: an answer committed since the read wins.
                let missed = sqlx::query(
                    "UPDATE checkin_requests SET missed_at = $1 WHERE id = $2 AND answered_at IS NULL AND missed_at IS NULL",
                )
                .bind(now)
                .bind(r.id)
                .execute(&mut *tx)
                .await?;
                if missed.rows_affected() == 0 {
                    continue;
                }
                let evidence =
                    Evidence { checkin_request_id: Some(r.id), since: Some(r.requested_at), ..Evidence::default() };
                // Another unanswered request while one episode runs is kept on the request itself.
                let new = NewAlert::system(r.person_id, &r.county, AlertKind::MissedCheckin, r.deadline, &evidence);
                raised += usize::from(open_alert(&mut tx, &new, now, policy).await?.is_some());
            }
            tx.commit().await?;
            if page < PAGE {
                return Ok(raised);
            }
        }
    }

    async fn raise_missed_registrations(
        &self,
        today: NaiveDate,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<usize> {
        let mut raised = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let late: Vec<Unregistered> = sqlx::query_as(&format!(
                "SELECT p.id, p.county, p.category, p.registration_due_on FROM persons p \
                 WHERE p.ended_on IS NULL AND p.registered_on IS NULL AND p.registration_due_on < $1 \
                 AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.person_id = p.id AND a.kind = 'missed_registration') \
                 ORDER BY p.id LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"
            ))
            .bind(today)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let page = late.len() as i64;
            for p in &late {
                let custodian = Category::parse(&p.category) == Some(Category::TemporaryRelease);
                let detail = if custodian {
                    format!(
                        "not handed over by {}: the custodian's failure to deliver the person",
                        p.registration_due_on
                    )
                } else {
                    format!("did not report in by {}", p.registration_due_on)
                };
                let first_late_day = p.registration_due_on + Duration::days(1);
                // The episode starts when the last allowed day ends, in the local time zone.
                let since = local_midnight(first_late_day, tz);
                let evidence = Evidence { since: Some(since), detail: Some(detail), ..Evidence::default() };
                let new = NewAlert::system(p.id, &p.county, AlertKind::MissedRegistration, since, &evidence);
                raised += usize::from(open_alert(&mut tx, &new, now, policy).await?.is_some());
            }
            tx.commit().await?;
            if page < PAGE {
                return Ok(raised);
            }
        }
    }

    async fn run_spot_checks(
        &self,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        next: &(dyn Fn() -> Option<DateTime<Utc>> + Send + Sync),
    ) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let due: Vec<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(&format!(
            "SELECT p.id, p.county, p.next_spot_check_at FROM persons p WHERE p.ended_on IS NULL \
             AND (p.next_spot_check_at IS NULL OR p.next_spot_check_at <= $1) \
             AND EXISTS (SELECT 1 FROM devices d WHERE d.person_id = p.id AND d.kind = 'phone' AND d.revoked_at IS NULL) \
             ORDER BY p.id LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"),
        )
        .bind(now)
        .bind(PAGE)
        .fetch_all(&mut *tx)
        .await?;
        let mut asked = 0;
        for (person, county, scheduled) in &due {
            // A person seen for the first time is only scheduled: no check the moment a phone is
            // enrolled.
            if scheduled.is_some() {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO checkin_requests (person_id, requested_at, deadline) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(person)
                .bind(now)
                .bind(deadline)
                .fetch_one(&mut *tx)
                .await?;
                let data = json!({ "request_id": id, "deadline": deadline, "spot_check": true });
                append(
                    &mut tx,
                    &NewEvent::new(EventKind::CheckinRequested, county, "system", data).about(*person),
                    now,
                )
                .await?;
                asked += 1;
            }
            sqlx::query("UPDATE persons SET next_spot_check_at = $1 WHERE id = $2")
                .bind(next())
                .bind(person)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(asked)
    }

    async fn ended_trips(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<EndedTrip>> {
        Ok(sqlx::query_as(
            "SELECT a.id AS application_id, a.person_id, a.starts_on, a.ends_on, p.residence_adcode \
             FROM travel_applications a JOIN persons p ON p.id = a.person_id \
             WHERE a.kind = 'trip' AND a.status = 'approved' AND a.overdue_at IS NULL AND a.ends_on >= $1 \
             AND a.ends_on <= $2 AND p.ended_on IS NULL ORDER BY a.id LIMIT 500",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await?)
    }

    async fn raise_overdue_return(
        &self,
        application_id: i64,
        person_id: i64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        lock_persons(&mut tx, &[person_id]).await?;
        // Not raised yet (read under the lock).
        let county: Option<String> = sqlx::query_scalar(
            "SELECT p.county FROM persons p JOIN travel_applications a ON a.person_id = p.id WHERE a.id = $1 \
             AND a.overdue_at IS NULL",
        )
        .bind(application_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(county) = county else { return Ok(false) };
        sqlx::query("UPDATE travel_applications SET overdue_at = $1 WHERE id = $2")
            .bind(now)
            .bind(application_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE persons SET state = 'absent' WHERE id = $1 AND state IN ('away_permitted', 'in_transit')")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        let evidence = Evidence {
            application_id: Some(application_id),
            since: Some(since),
            detail: Some("still away when the trip and its grace ended".into()),
            ..Evidence::default()
        };
        let new = NewAlert::system(person_id, &county, AlertKind::OverdueReturn, since, &evidence);
        let raised = open_alert(&mut tx, &new, now, policy).await?.is_some();
        tx.commit().await?;
        Ok(raised)
    }

    async fn mark_missed_acknowledgements(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let missed: Vec<(i64, i64, String, DateTime<Utc>, String)> = sqlx::query_as(&format!(
            "SELECT a.id, a.person_id, a.kind, a.ack_due_at, p.county FROM alerts a JOIN persons p ON p.id = a.person_id \
             WHERE a.status = 'open' AND a.ack_missed_at IS NULL AND a.ack_due_at < $1 \
             AND (a.suppressed_until IS NULL OR a.suppressed_until <= $1) ORDER BY a.id{FOR_UPDATE_SKIP_LOCKED}"),
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for (id, person, kind, due, county) in &missed {
            let marked = sqlx::query(
                "UPDATE alerts SET ack_missed_at = $1 WHERE id = $2 AND status = 'open' AND ack_missed_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            let data = json!({ "alert_id": id, "kind": kind, "ack_due_at": due });
            append(
                &mut tx,
                &NewEvent::new(EventKind::AlertAckDeadlineMissed, county, "system", data).about(*person),
                now,
            )
            .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn purge_fixes(&self, ended_before: NaiveDate, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let persons: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT p.id, p.county FROM persons p WHERE p.ended_on < $1 \
             AND EXISTS (SELECT 1 FROM fixes f WHERE f.person_id = p.id AND f.evidence = $2) ORDER BY p.id LIMIT $3{FOR_UPDATE_SKIP_LOCKED}"),
        )
        .bind(ended_before)
        .bind(false)
        .bind(PAGE)
        .fetch_all(&mut *tx)
        .await?;
        let mut purged = 0;
        for (person, county) in &persons {
            let gone = sqlx::query("DELETE FROM fixes WHERE person_id = $1 AND evidence = $2")
                .bind(person)
                .bind(false)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            purged += gone as usize;
            let data = json!({ "fixes": gone, "ended_before": ended_before });
            append(&mut tx, &NewEvent::new(EventKind::FixesPurged, county, "system", data).about(*person), now).await?;
        }
        tx.commit().await?;
        Ok(purged)
    }
}
