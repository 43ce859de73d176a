//! Episodes: the supervision loop and the scheduler open, join and end alerts inside their own
//! transactions; one running episode per person and kind is enforced by the schema.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{QueryBuilder, Transaction};

use super::fixes::push_keys;
use super::log::append;
use super::Db;
use crate::oversight::{EventKind, NewEvent};
use crate::settings::Policy;
use crate::supervision::{ack_deadline, AlertKind, Evidence};
use crate::Result;

fn evidence_text(evidence: &Evidence) -> Result<String> {
    Ok(serde_json::to_string(evidence).map_err(|e| anyhow::anyhow!("alert evidence: {e}"))?)
}

/// A new episode to record.
pub(super) struct NewAlert<'a> {
    pub person_id: i64,
    pub county: &'a str,
    pub kind: AlertKind,
    pub opened_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub retrospective: bool,
    pub evidence: &'a Evidence,
    pub actor: &'a str,
}

impl<'a> NewAlert<'a> {
    /// An episode the service itself opens from `at`, as it stands now.
    pub fn system(person_id: i64, county: &'a str, kind: AlertKind, at: DateTime<Utc>, evidence: &'a Evidence) -> Self {
        NewAlert {
            person_id,
            county,
            kind,
            opened_at: at,
            ended_at: None,
            retrospective: false,
            evidence,
            actor: "system",
        }
    }
}

/// Records a new episode; `None` when one of the kind already runs for the person (another
/// instance got there first). A suppression in force for the kind carries over.
pub(super) async fn open_alert(
    tx: &mut Transaction<'_, Db>,
    new: &NewAlert<'_>,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<Option<i64>> {
    let suppressed: Option<(DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT suppressed_until, suppress_reason FROM alerts WHERE person_id = $1 AND kind = $2 \
         AND suppressed_until > $3 ORDER BY suppressed_until DESC LIMIT 1",
    )
    .bind(new.person_id)
    .bind(new.kind.as_str())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO alerts (person_id, kind, status, retrospective, opened_at, episode_ended_at, raised_at, \
         device_id, evidence, ack_due_at, suppressed_until, suppress_reason) \
         VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (person_id, kind) WHERE episode_ended_at IS NULL DO NOTHING RETURNING id",
    )
    .bind(new.person_id)
    .bind(new.kind.as_str())
    .bind(new.retrospective)
    .bind(new.opened_at)
    .bind(new.ended_at)
    .bind(now)
    .bind(new.evidence.device_id)
    .bind(evidence_text(new.evidence)?)
    .bind(ack_deadline(new.kind, now, policy))
    .bind(suppressed.as_ref().map(|s| s.0))
    .bind(suppressed.as_ref().map(|s| s.1.clone()))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    // Counted before the commit: a rolled-back group is rare and retried.
    metrics::counter!("alerts_opened_total", "kind" => new.kind.as_str()).increment(1);
    keep_evidence(tx, new.person_id, new.evidence).await?;
    let data = json!({
        "alert_id": id,
        "kind": new.kind,
        "opened_at": new.opened_at,
        "episode_ended_at": new.ended_at,
        "retrospective": new.retrospective,
        "suppressed_until": suppressed.map(|s| s.0),
        "evidence": new.evidence,
    });
    let event = NewEvent::new(EventKind::AlertOpened, new.county, new.actor, data).about(new.person_id);
    append(tx, &event, now).await?;
    Ok(Some(id))
}

/// Replaces the running episode's evidence with `evidence` (a material change).
pub(super) async fn join_evidence(
    tx: &mut Transaction<'_, Db>,
    person_id: i64,
    county: &str,
    kind: AlertKind,
    evidence: &Evidence,
    now: DateTime<Utc>,
) -> Result<()> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE alerts SET evidence = $1 WHERE person_id = $2 AND kind = $3 AND episode_ended_at IS NULL RETURNING id",
    )
    .bind(evidence_text(evidence)?)
    .bind(person_id)
    .bind(kind.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else { return Ok(()) };
    keep_evidence(tx, person_id, evidence).await?;
    let data = json!({ "alert_id": id, "kind": kind, "evidence": evidence });
    append(tx, &NewEvent::new(EventKind::AlertEvidenceAdded, county, "system", data).about(person_id), now).await?;
    Ok(())
}

/// Ends the running episode of `kind` at `at` (position time of the fix that ended it); evidence
/// older than the episode's start (a late backlog) ends nothing.
pub(super) async fn end_episode(
    tx: &mut Transaction<'_, Db>,
    person_id: i64,
    county: &str,
    kind: AlertKind,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE alerts SET episode_ended_at = $1 WHERE person_id = $2 AND kind = $3 AND episode_ended_at IS NULL \
         AND opened_at <= $1 RETURNING id",
    )
    .bind(at)
    .bind(person_id)
    .bind(kind.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = id {
        let data = json!({ "alert_id": id, "kind": kind, "episode_ended_at": at });
        append(tx, &NewEvent::new(EventKind::AlertEpisodeEnded, county, "system", data).about(person_id), now).await?;
    }
    Ok(())
}

/// Fixes that are evidence outlive the retention period.
async fn keep_evidence(tx: &mut Transaction<'_, Db>, person_id: i64, evidence: &Evidence) -> Result<()> {
    if evidence.fixes.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<Db>::new("UPDATE fixes SET evidence = ");
    q.push_bind(true).push(" WHERE person_id = ").push_bind(person_id);
    push_keys(&mut q, evidence.fixes.iter().map(|f| (f.id.as_str(), f.at)));
    q.build().execute(&mut **tx).await?;
    Ok(())
}
