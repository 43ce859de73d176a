//! Opinions (检察建议 / 纠正意见) and the agency's written replies and their deadlines; every step
//! an event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{push_scope, remember, replayed, require_reader, resource_id};
use super::log::append;
use super::{Backend, Db, FOR_UPDATE};
use crate::auth::{Actor, Role};
use crate::oversight::{
    EventKind, NewEvent, OpinionFilter, OpinionKind, OpinionRequest, OpinionStatus, OversightOpinion, Reply,
    ReplyOutcome, Subject,
};
use crate::store::{Enrolled, IdempotencyKey, OpinionStore};
use crate::{Error, Result};

const COLUMNS: &str = "o.id, o.kind, o.person_id, o.subject, o.subject_id, o.county, o.text, o.reply_due, \
     o.issued_at, o.issued_by, o.outcome, o.reply, o.replied_at, o.replied_by";

#[derive(FromRow)]
struct OpinionRow {
    id: i64,
    kind: String,
    person_id: i64,
    subject: String,
    subject_id: i64,
    county: String,
    text: String,
    reply_due: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    issued_by: i64,
    outcome: Option<String>,
    reply: Option<String>,
    replied_at: Option<DateTime<Utc>>,
    replied_by: Option<i64>,
}

impl OpinionRow {
    fn into_opinion(self, now: DateTime<Utc>) -> Result<OversightOpinion> {
        let bad = |what: &str| Error::Internal(anyhow::anyhow!("opinion {}: bad {what} in the database", self.id));
        Ok(OversightOpinion {
            kind: OpinionKind::parse(&self.kind).ok_or_else(|| bad("kind"))?,
            subject: Subject::parse(&self.subject).ok_or_else(|| bad("subject"))?,
            outcome: match &self.outcome {
                Some(o) => Some(ReplyOutcome::parse(o).ok_or_else(|| bad("outcome"))?),
                None => None,
            },
            status: OversightOpinion::status_at(self.reply_due, self.replied_at.is_some(), now),
            late: self.replied_at.is_some_and(|r| r > self.reply_due),
            id: self.id,
            person_id: self.person_id,
            subject_id: self.subject_id,
            county: self.county,
            text: self.text,
            reply_due: self.reply_due,
            issued_at: self.issued_at,
            issued_by: self.issued_by,
            reply: self.reply,
            replied_at: self.replied_at,
            replied_by: self.replied_by,
        })
    }
}

async fn by_id(tx: &mut Transaction<'_, Db>, id: i64) -> Result<OpinionRow> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM opinions o WHERE o.id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// The person an opinion's subject belongs to.
async fn subject_person(tx: &mut Transaction<'_, Db>, subject: Subject, id: i64) -> Result<i64> {
    let sql = match subject {
        Subject::Person => return Ok(id),
        Subject::Alert => "SELECT person_id FROM alerts WHERE id = $1",
        Subject::Application => "SELECT person_id FROM travel_applications WHERE id = $1",
    };
    let person: Option<i64> = sqlx::query_scalar(sql).bind(id).fetch_optional(&mut **tx).await?;
    person.ok_or(Error::NotFound(subject.as_str()))
}

#[async_trait]
impl OpinionStore for Backend {
    async fn issue_opinion(
        &self,
        actor: &Actor,
        request: &OpinionRequest,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<OversightOpinion>> {
        if actor.role != Role::Procurator {
            return Err(Error::Forbidden("opinions are issued by procurators; officers reply to them".into()));
        }
        let mut tx = self.begin_write().await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let row = by_id(&mut tx, resource_id(&resource, "opinion")?).await?;
            return Ok(Enrolled { value: row.into_opinion(at)?, replayed: true });
        }
        let person_id = subject_person(&mut tx, request.subject, request.subject_id).await?;
        let mut q = QueryBuilder::<Db>::new("SELECT p.county FROM persons p WHERE p.id = ");
        q.push_bind(person_id);
        push_scope(&mut q, actor)?;
        // Outside the jurisdiction the subject does not exist for this procurator.
        let county: String =
            q.build_query_scalar().fetch_optional(&mut *tx).await?.ok_or(Error::NotFound(request.subject.as_str()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO opinions (kind, person_id, subject, subject_id, county, text, reply_due, issued_at, issued_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(request.kind.as_str())
        .bind(person_id)
        .bind(request.subject.as_str())
        .bind(request.subject_id)
        .bind(&county)
        .bind(request.text.trim())
        .bind(request.reply_due)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        remember(&mut tx, idem, &format!("opinion:{id}"), at).await?;
        let data = json!({
            "opinion_id": id, "kind": request.kind, "subject": request.subject, "subject_id": request.subject_id,
            "text": request.text.trim(), "reply_due": request.reply_due,
        });
        append(&mut tx, &NewEvent::new(EventKind::OpinionIssued, &county, actor.label(), data).about(person_id), at)
            .await?;
        let row = by_id(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Enrolled { value: row.into_opinion(at)?, replayed: false })
    }

    async fn opinions(
        &self,
        actor: &Actor,
        filter: &OpinionFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<OversightOpinion>> {
        require_reader(actor)?;
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {COLUMNS} FROM opinions o JOIN persons p ON p.id = o.person_id WHERE 1 = 1"
        ));
        push_scope(&mut q, actor)?;
        if let Some(person) = filter.person_id {
            q.push(" AND o.person_id = ").push_bind(person);
        }
        match filter.status {
            Some(OpinionStatus::Open) => q.push(" AND o.replied_at IS NULL AND o.reply_due > ").push_bind(now),
            Some(OpinionStatus::Overdue) => q.push(" AND o.replied_at IS NULL AND o.reply_due <= ").push_bind(now),
            Some(OpinionStatus::Answered) => q.push(" AND o.replied_at IS NOT NULL"),
            None => &mut q,
        };
        q.push(" ORDER BY o.reply_due, o.id LIMIT 1000");
        let rows: Vec<OpinionRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(|r| r.into_opinion(now)).collect()
    }

    async fn opinion(&self, actor: &Actor, id: i64, now: DateTime<Utc>) -> Result<OversightOpinion> {
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {COLUMNS} FROM opinions o JOIN persons p ON p.id = o.person_id WHERE o.id = "
        ));
        q.push_bind(id);
        push_scope(&mut q, actor)?;
        let row: Option<OpinionRow> = q.build_query_as().fetch_optional(&self.read).await?;
        row.ok_or(Error::NotFound("opinion"))?.into_opinion(now)
    }

    async fn reply_to_opinion(
        &self,
        actor: &Actor,
        id: i64,
        reply: &Reply,
        at: DateTime<Utc>,
    ) -> Result<OversightOpinion> {
        let mut tx = self.begin_write().await?;
        let mut q = QueryBuilder::<Db>::new(
            "SELECT p.county FROM opinions o JOIN persons p ON p.id = o.person_id WHERE o.id = ",
        );
        q.push_bind(id);
        push_scope(&mut q, actor)?;
        q.push(FOR_UPDATE);
        let county: String =
            q.build_query_scalar().fetch_optional(&mut *tx).await?.ok_or(Error::NotFound("opinion"))?;
        if !matches!(actor.role, Role::CountyOfficer | Role::CountyHead | Role::CityOfficer) {
            return Err(Error::Forbidden(format!(
                "the opinion is addressed to the corrections agency of {county}: its county or city officers reply"
            )));
        }
        let row = by_id(&mut tx, id).await?;
        if row.replied_at.is_some() {
            // A retried reply is answered with the stored one; a different one is refused.
            if row.outcome.as_deref() == Some(reply.outcome.as_str()) && row.reply.as_deref() == Some(reply.text.trim())
            {
                return row.into_opinion(at);
            }
            return Err(Error::Conflict("the opinion was already answered".into()));
        }
        sqlx::query(
            "UPDATE opinions SET outcome = $1, reply = $2, replied_at = $3, replied_by = $4 \
             WHERE id = $5 AND replied_at IS NULL",
        )
        .bind(reply.outcome.as_str())
        .bind(reply.text.trim())
        .bind(at)
        .bind(actor.user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let data = json!({
            "opinion_id": id, "outcome": reply.outcome, "text": reply.text.trim(), "late": at > row.reply_due,
        });
        let event = NewEvent::new(EventKind::OpinionReplied, &county, actor.label(), data).about(row.person_id);
        append(&mut tx, &event, at).await?;
        let row = by_id(&mut tx, id).await?;
        tx.commit().await?;
        row.into_opinion(at)
    }

    async fn mark_overdue_opinions(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        // One statement marks them all before any append, so the job never waits for an
        // opinion's row while holding the log (a reply takes the opinion, then the log). On
        // PostgreSQL a row a reply got to first is checked again once its lock is released.
        let mut due: Vec<(i64, i64, String, DateTime<Utc>, String)> = sqlx::query_as(
            "UPDATE opinions SET overdue_at = $1 WHERE id IN (SELECT id FROM opinions \
             WHERE replied_at IS NULL AND overdue_at IS NULL AND reply_due <= $1 ORDER BY id LIMIT 500) \
             AND replied_at IS NULL AND overdue_at IS NULL RETURNING id, person_id, county, reply_due, kind",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        due.sort_by_key(|d| d.0);
        for (id, person, county, reply_due, kind) in &due {
            let data = json!({ "opinion_id": id, "kind": kind, "reply_due": reply_due });
            let event = NewEvent::new(EventKind::OpinionReplyOverdue, county, "system", data).about(*person);
            append(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }
}
