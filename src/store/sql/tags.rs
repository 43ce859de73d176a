//! Tag events (tamper, strap, battery): stored once each, and the episodes they start or end,
//! inside the check-in writer's transaction.

use sqlx::Transaction;

use super::episodes::{end_episode, open_alert, NewAlert};
use super::Db;
use crate::checkin::{Batch, Stored, TagEvent, TagEventKind};
use crate::settings::Policy;
use crate::supervision::Evidence;
use crate::Result;

/// Stores a tag's events once each and opens or ends the tamper and battery episodes they mark.
/// Records in `stored` how many were new, how many were retries, and which (by position) reuse
/// an id and time with other content.
pub(super) async fn tag_events(
    tx: &mut Transaction<'_, Db>,
    batch: &Batch,
    policy: &Policy,
    stored: &mut Stored,
) -> Result<()> {
    if batch.events.is_empty() {
        return Ok(());
    }
    let mut events: Vec<(usize, &TagEvent)> = batch.events.iter().enumerate().collect();
    events.sort_by(|(_, a), (_, b)| (a.at, &a.client_id).cmp(&(b.at, &b.client_id)));
    let (county, ended): (String, bool) =
        sqlx::query_as("SELECT county, ended_on IS NOT NULL FROM persons WHERE id = $1")
            .bind(batch.person_id)
            .fetch_one(&mut **tx)
            .await?;
    for (index, event) in events {
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
            let (kind, pct): (String, Option<i32>) = sqlx::query_as(
                "SELECT kind, battery_pct FROM device_events WHERE device_id = $1 AND client_id = $2 AND at = $3",
            )
            .bind(batch.device_id)
            .bind(&event.client_id)
            .bind(event.at)
            .fetch_one(&mut **tx)
            .await?;
            if kind == event.kind.as_str() && pct == event.battery_pct.map(i32::from) {
                stored.events_duplicates += 1;
            } else {
                stored.event_conflicts.push(index);
            }
            continue;
        }
        stored.events_accepted += 1;
        if ended {
            continue;
        }
        match event.kind.episode() {
            (kind, true) => {
                // The closing event may have arrived first (events come out of order).
                let closed: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                    "SELECT MIN(at) FROM device_events WHERE device_id = $1 AND kind = $2 AND at > $3",
                )
                .bind(batch.device_id)
                .bind(TagEventKind::closing(kind).as_str())
                .bind(event.at)
                .fetch_one(&mut **tx)
                .await?;
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
                    ended_at: closed,
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
    Ok(())
}
