//! Consultations with the procuratorate and hearings, attached to a travel application; each
//! step is an event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder};

use super::common::push_scope;
use super::log::append;
use super::travel::{for_caller, scoped};
use super::{Backend, Db};
use crate::auth::{Actor, Role};
use crate::oversight::{EventKind, NewEvent};
use crate::store::StepsStore;
use crate::travel::{ApplicationStatus, Consultation, ConsultationRequest, Hearing, HearingRequest, Opinion, Stance};
use crate::{Error, Result};

const CONSULTATION_COLUMNS: &str = "c.id, c.application_id, c.question, c.deadline, c.asked_at, c.asked_by, c.stance, \
     c.opinion, c.answered_at, c.answered_by";
const HEARING_COLUMNS: &str =
    "h.id, h.application_id, h.scheduled_at, h.place, h.participants, h.outcome, h.recorded_at";

#[derive(FromRow)]
struct ConsultationRow {
    id: i64,
    application_id: i64,
    question: String,
    deadline: DateTime<Utc>,
    asked_at: DateTime<Utc>,
    asked_by: i64,
    stance: Option<String>,
    opinion: Option<String>,
    answered_at: Option<DateTime<Utc>>,
    answered_by: Option<i64>,
}

impl ConsultationRow {
    fn into_consultation(self, now: DateTime<Utc>) -> Consultation {
        Consultation {
            overdue: self.answered_at.is_none() && self.deadline < now,
            id: self.id,
            application_id: self.application_id,
            question: self.question,
            deadline: self.deadline,
            asked_at: self.asked_at,
            asked_by: self.asked_by,
            stance: self.stance.as_deref().and_then(Stance::parse),
            opinion: self.opinion,
            answered_at: self.answered_at,
            answered_by: self.answered_by,
        }
    }
}

#[derive(FromRow)]
struct HearingRow {
    id: i64,
    application_id: i64,
    scheduled_at: DateTime<Utc>,
    place: String,
    participants: String,
    outcome: Option<String>,
    recorded_at: Option<DateTime<Utc>>,
}

impl TryFrom<HearingRow> for Hearing {
    type Error = Error;
    fn try_from(r: HearingRow) -> Result<Self> {
        let participants = serde_json::from_str(&r.participants)
            .map_err(|_| Error::Internal(anyhow::anyhow!("hearing {}: bad participants in the database", r.id)))?;
        Ok(Hearing {
            id: r.id,
            application_id: r.application_id,
            scheduled_at: r.scheduled_at,
            place: r.place,
            participants,
            outcome: r.outcome,
            recorded_at: r.recorded_at,
        })
    }
}

#[async_trait]
impl StepsStore for Backend {
    async fn ask_consultation(
        &self,
        actor: &Actor,
        application_id: i64,
        request: &ConsultationRequest,
        at: DateTime<Utc>,
    ) -> Result<Consultation> {
        let mut tx = self.begin_write().await?;
        let (application, county) = for_caller(&mut tx, Some(actor), None, application_id).await?;
        if application.status != ApplicationStatus::Pending {
            return Err(Error::Conflict(format!("the application is already {}", application.status)));
        }
        let row: ConsultationRow = sqlx::query_as(
            "INSERT INTO consultations (application_id, question, deadline, asked_at, asked_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, application_id, question, deadline, asked_at, asked_by, \
             stance, opinion, answered_at, answered_by",
        )
        .bind(application_id)
        .bind(request.question.trim())
        .bind(request.deadline)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({
            "application_id": application_id, "consultation_id": row.id, "question": request.question.trim(),
            "deadline": request.deadline,
        });
        let event = NewEvent::new(EventKind::ConsultationAsked, &county, actor.label(), data);
        append(&mut tx, &event.about(application.person_id), at).await?;
        tx.commit().await?;
        Ok(row.into_consultation(at))
    }

    async fn give_opinion(&self, actor: &Actor, id: i64, opinion: &Opinion, at: DateTime<Utc>) -> Result<Consultation> {
        let mut tx = self.begin_write().await?;
        let mut q = QueryBuilder::<Db>::new(format!(
            "SELECT {CONSULTATION_COLUMNS}, p.id AS person_id, p.county FROM consultations c \
             JOIN travel_applications a ON a.id = c.application_id JOIN persons p ON p.id = a.person_id WHERE c.id = "
        ));
        q.push_bind(id);
        push_scope(&mut q, actor).map_err(|_| Error::NotFound("consultation"))?;
        #[derive(FromRow)]
        struct Found {
            #[sqlx(flatten)]
            row: ConsultationRow,
            person_id: i64,
            county: String,
        }
        let found: Found = q.build_query_as().fetch_optional(&mut *tx).await?.ok_or(Error::NotFound("consultation"))?;
        if actor.role != Role::Procurator {
            return Err(Error::Forbidden("opinions are given by the procuratorate".into()));
        }
        if found.row.answered_at.is_some() {
            let same = found.row.stance.as_deref() == Some(opinion.stance.as_str())
                && found.row.opinion.as_deref() == Some(opinion.text.trim());
            return match same {
                true => Ok(found.row.into_consultation(at)),
                false => Err(Error::Conflict("the opinion has been given already".into())),
            };
        }
        let row: ConsultationRow = sqlx::query_as(
            "UPDATE consultations SET stance = $1, opinion = $2, answered_at = $3, answered_by = $4 WHERE id = $5 \
             RETURNING id, application_id, question, deadline, asked_at, asked_by, stance, opinion, answered_at, \
             answered_by",
        )
        .bind(opinion.stance.as_str())
        .bind(opinion.text.trim())
        .bind(at)
        .bind(actor.user_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({
            "consultation_id": id, "application_id": row.application_id, "stance": opinion.stance,
            "text": opinion.text.trim(), "late": at > row.deadline,
        });
        let event = NewEvent::new(EventKind::OpinionGiven, &found.county, actor.label(), data);
        append(&mut tx, &event.about(found.person_id), at).await?;
        tx.commit().await?;
        Ok(row.into_consultation(at))
    }

    async fn consultations(&self, actor: &Actor, application_id: i64, now: DateTime<Utc>) -> Result<Vec<Consultation>> {
        let mut tx = self.read.begin().await?;
        scoped(&mut tx, actor, application_id).await?;
        let rows: Vec<ConsultationRow> = sqlx::query_as(&format!(
            "SELECT {CONSULTATION_COLUMNS} FROM consultations c WHERE c.application_id = $1 ORDER BY c.id"
        ))
        .bind(application_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|r| r.into_consultation(now)).collect())
    }

    async fn schedule_hearing(
        &self,
        actor: &Actor,
        application_id: i64,
        request: &HearingRequest,
        at: DateTime<Utc>,
    ) -> Result<Hearing> {
        let mut tx = self.begin_write().await?;
        let (application, county) = for_caller(&mut tx, Some(actor), None, application_id).await?;
        if application.status != ApplicationStatus::Pending {
            return Err(Error::Conflict(format!("the application is already {}", application.status)));
        }
        let participants = serde_json::to_string(&request.participants).map_err(|e| anyhow::anyhow!("{e}"))?;
        let row: HearingRow = sqlx::query_as(
            "INSERT INTO hearings (application_id, scheduled_at, place, participants, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, application_id, scheduled_at, place, participants, outcome, recorded_at",
        )
        .bind(application_id)
        .bind(request.at)
        .bind(request.place.trim())
        .bind(participants)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({
            "application_id": application_id, "hearing_id": row.id, "at": request.at, "place": request.place.trim(),
            "participants": request.participants,
        });
        let event = NewEvent::new(EventKind::HearingScheduled, &county, actor.label(), data);
        append(&mut tx, &event.about(application.person_id), at).await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn record_hearing(
        &self,
        actor: &Actor,
        application_id: i64,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<Hearing> {
        let mut tx = self.begin_write().await?;
        let (application, county) = for_caller(&mut tx, Some(actor), None, application_id).await?;
        let row: HearingRow = sqlx::query_as(
            "UPDATE hearings SET outcome = $1, recorded_at = $2 WHERE id = (SELECT MAX(id) FROM hearings \
             WHERE application_id = $3 AND outcome IS NULL) \
             RETURNING id, application_id, scheduled_at, place, participants, outcome, recorded_at",
        )
        .bind(outcome.trim())
        .bind(at)
        .bind(application_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::Conflict("no hearing awaits an outcome: schedule one first".into()))?;
        let data = json!({ "application_id": application_id, "hearing_id": row.id, "outcome": outcome.trim() });
        let event = NewEvent::new(EventKind::HearingHeld, &county, actor.label(), data);
        append(&mut tx, &event.about(application.person_id), at).await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn hearings(&self, actor: &Actor, application_id: i64) -> Result<Vec<Hearing>> {
        let mut tx = self.read.begin().await?;
        scoped(&mut tx, actor, application_id).await?;
        let rows: Vec<HearingRow> = sqlx::query_as(&format!(
            "SELECT {HEARING_COLUMNS} FROM hearings h WHERE h.application_id = $1 ORDER BY h.id"
        ))
        .bind(application_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter().map(Hearing::try_from).collect()
    }
}
