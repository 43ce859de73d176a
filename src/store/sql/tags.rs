//! Tag events (tamper, strap, battery): stored once each, and the episodes they start or end,
//! inside the check-in writer's transaction.

use sqlx::Transaction;

use super::episodes::{end_episode, open_alert, NewAlert};
use super::Db;
use crate::checkin::{Batch, TagEvent};
use crate::settings::Policy;
use crate::supervision::Evidence;
use crate::Result;

/// Stores a tag's events once each and opens or ends the tamper and battery episodes they mark.
/// Answers how many were new and how many were retries.
pub(super) async fn tag_events(tx: &mut Transaction<'_, Db>, batch: &Batch, policy: &Policy) -> Result<(usize, usize)> {
    if batch.events.is_empty() {
        return Ok((0, 0));
    }
    let mut events: Vec<&TagEvent> = batch.events.iter().collect();
    events.sort_by(|a, b| (a.at, &a.client_id).cmp(&(b.at, &b.client_id)));
    let (county, ended): (String, bool) =
        sqlx::query_as("SELECT county, ended_on IS NOT NULL FROM persons WHERE id = $1")
            .bind(batch.person_id)
            .fetch_one(&mut **tx)
            .await?;
    let (mut accepted, mut duplicates) = (0, 0);
    for event in events {
        let new: Option<i64> = sqlx::query_scalar(
            "INSERT INTO device_events (person_id, device_id, client_id, at, received_at, kind, battery_pct) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id, client_id, at) DO NOTHING RETURNING id",
        )
        .bind(batch.person_id)
        .bind(batch.device_id)
        .bind(&event.client_id)
        .bind(event.at)
        .bind(batch.received_at)
        .bind(event.kind.as_str())
        .bind(event.battery_pct.map(i32::from))
        .fetch_optional(&mut **tx)
        .await?;
        if new.is_none() {
            duplicates += 1;
            continue;
        }
        accepted += 1;
        if ended {
            continue;
        }
        match event.kind.episode() {
            (kind, true) => {
                let evidence = Evidence {
                    device_id: Some(batch.device_id),
                    since: Some(event.at),
                    detail: Some(match event.battery_pct {
                        Some(pct) => format!("{} ({pct}%)", event.kind),
                        None => event.kind.to_string(),
                    }),
                    ..Evidence::default()
                };
                let new = NewAlert {
                    person_id: batch.person_id,
                    county: &county,
                    kind,
                    opened_at: event.at,
                    ended_at: None,
                    retrospective: batch.received_at - event.at
                        > chrono::Duration::minutes(policy.retrospective_after_minutes.into()),
                    evidence: &evidence,
                    actor: "system",
                };
                open_alert(tx, &new, batch.received_at, policy).await?;
            }
            (kind, false) => end_episode(tx, batch.person_id, &county, kind, event.at, batch.received_at).await?,
        }
    }
    Ok((accepted, duplicates))
}
