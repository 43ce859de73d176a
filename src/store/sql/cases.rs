//! The case register: persons, scoped by the actor in every query.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::{FromRow, QueryBuilder, Transaction};

use super::common::{push_scope, remember, replayed, require_writer, resource_id};
use super::episodes::end_episode;
use super::log::append;
use super::{Backend, Db};
use crate::auth::{Actor, DeviceActor};
use crate::oversight::{EventKind, NewEvent};
use crate::register::{Category, NewPerson, Person, PersonFilter, SupervisionState};
use crate::store::{CaseStore, Enrolled, IdempotencyKey};
use crate::supervision::AlertKind;
use crate::{Error, Result};

const PERSON_SELECT: &str = "SELECT p.id, p.name, p.category, p.residence_adcode, p.office_id, p.county, p.city, \
     p.judgment_effective_on, p.released_on, p.supervision_ends_on, p.registration_due_on, p.registered_on, \
     p.state, p.last_fix_at, p.ended_on, p.created_at, \
     (SELECT COUNT(*) FROM alerts a WHERE a.person_id = p.id AND a.status <> 'resolved') AS open_alerts \
     FROM persons p WHERE ";

#[derive(FromRow)]
struct PersonRow {
    id: i64,
    name: String,
    category: String,
    residence_adcode: String,
    office_id: String,
    county: String,
    city: String,
    judgment_effective_on: NaiveDate,
    released_on: Option<NaiveDate>,
    supervision_ends_on: NaiveDate,
    registration_due_on: NaiveDate,
    registered_on: Option<NaiveDate>,
    state: Option<String>,
    last_fix_at: Option<DateTime<Utc>>,
    ended_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    open_alerts: i64,
}

impl TryFrom<PersonRow> for Person {
    type Error = Error;
    fn try_from(r: PersonRow) -> Result<Self> {
        let corrupt = |what: &str| Error::Internal(anyhow::anyhow!("person {}: bad {what} in the database", r.id));
        let category = Category::parse(&r.category).ok_or_else(|| corrupt("category"))?;
        let state =
            (r.state.as_deref()).map(|s| SupervisionState::parse(s).ok_or_else(|| corrupt("state"))).transpose()?;
        Ok(Person {
            id: r.id,
            name: r.name,
            category,
            residence_adcode: r.residence_adcode,
            office: r.office_id,
            county: r.county,
            city: r.city,
            judgment_effective_on: r.judgment_effective_on,
            released_on: r.released_on,
            supervision_ends_on: r.supervision_ends_on,
            registration_due_on: r.registration_due_on,
            registered_on: r.registered_on,
            state,
            last_fix_at: r.last_fix_at,
            open_alerts: r.open_alerts,
            ended_on: r.ended_on,
            created_at: r.created_at,
        })
    }
}

/// A person in the actor's scope, read inside `tx`.
async fn scoped_person(tx: &mut Transaction<'_, Db>, actor: &Actor, id: i64) -> Result<Person> {
    let mut q = QueryBuilder::<Db>::new(PERSON_SELECT);
    q.push("p.id = ").push_bind(id);
    push_scope(&mut q, actor)?;
    let row: Option<PersonRow> = q.build_query_as().fetch_optional(&mut **tx).await?;
    row.map(Person::try_from).transpose()?.ok_or(Error::NotFound("person"))
}

#[async_trait]
impl CaseStore for Backend {
    async fn enrol_person(
        &self,
        actor: &Actor,
        person: &NewPerson,
        idem: Option<&IdempotencyKey>,
        at: DateTime<Utc>,
    ) -> Result<Enrolled<Person>> {
        require_writer(actor)?;
        let mut tx = self.begin_write().await?;
        if let Some(resource) = replayed(&mut tx, idem).await? {
            let value = scoped_person(&mut tx, actor, resource_id(&resource, "person")?).await?;
            return Ok(Enrolled { value, replayed: true });
        }
        let office: Option<(String, String)> = sqlx::query_as("SELECT county, city FROM offices WHERE id = $1")
            .bind(&person.office)
            .fetch_optional(&mut *tx)
            .await?;
        let (county, city) = office
            .filter(|(county, city)| actor.scope.covers(&person.office, county, city))
            .ok_or_else(|| Error::invalid("office", "no judicial office with this id in your scope"))?;
        if person.residence_adcode != county {
            return Err(Error::invalid(
                "residence_adcode",
                format!("must be the county of the supervising office ({county}): supervision follows residence"),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO persons (name, category, residence_adcode, office_id, county, city, judgment_effective_on, \
             released_on, supervision_ends_on, registration_due_on, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(&person.name)
        .bind(person.category.as_str())
        .bind(&person.residence_adcode)
        .bind(&person.office)
        .bind(&county)
        .bind(&city)
        .bind(person.judgment_effective_on)
        .bind(person.released_on)
        .bind(person.supervision_ends_on)
        .bind(person.registration_due_on)
        .bind(at)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        remember(&mut tx, idem, &format!("person:{id}"), at).await?;
        let data = json!({
            "category": person.category.as_str(),
            "office": person.office,
            "residence_adcode": person.residence_adcode,
            "judgment_effective_on": person.judgment_effective_on,
            "released_on": person.released_on,
            "supervision_ends_on": person.supervision_ends_on,
            "registration_due_on": person.registration_due_on,
        });
        append(&mut tx, &NewEvent::new(EventKind::PersonEnrolled, &county, actor.label(), data).about(id), at).await?;
        let value = scoped_person(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(Enrolled { value, replayed: false })
    }

    async fn person(&self, actor: &Actor, id: i64) -> Result<Option<Person>> {
        let mut q = QueryBuilder::<Db>::new(PERSON_SELECT);
        q.push("p.id = ").push_bind(id);
        if push_scope(&mut q, actor).is_err() {
            return Ok(None);
        }
        let row: Option<PersonRow> = q.build_query_as().fetch_optional(&self.read).await?;
        row.map(Person::try_from).transpose()
    }

    async fn device_person(&self, device: &DeviceActor) -> Result<Option<Person>> {
        let mut q = QueryBuilder::<Db>::new(PERSON_SELECT);
        q.push("p.id = ").push_bind(device.person_id);
        q.push(" AND EXISTS (SELECT 1 FROM devices d WHERE d.person_id = p.id AND d.revoked_at IS NULL AND d.id = ")
            .push_bind(device.device_id)
            .push(")");
        let row: Option<PersonRow> = q.build_query_as().fetch_optional(&self.read).await?;
        row.map(Person::try_from).transpose()
    }

    async fn persons(&self, actor: &Actor, filter: &PersonFilter, today: NaiveDate) -> Result<Vec<Person>> {
        let mut q = QueryBuilder::<Db>::new(PERSON_SELECT);
        q.push("p.id > ").push_bind(filter.after);
        if push_scope(&mut q, actor).is_err() {
            return Ok(Vec::new());
        }
        if let Some(office) = &filter.office {
            q.push(" AND p.office_id = ").push_bind(office.clone());
        }
        if let Some(state) = &filter.state {
            q.push(" AND p.state = ").push_bind(state.as_str());
        }
        if filter.unregistered {
            q.push(" AND p.registered_on IS NULL AND p.registration_due_on < ").push_bind(today);
        }
        q.push(" ORDER BY p.id LIMIT ").push_bind(filter.limit);
        let rows: Vec<PersonRow> = q.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Person::try_from).collect()
    }

    async fn record_registration(&self, actor: &Actor, id: i64, on: NaiveDate, at: DateTime<Utc>) -> Result<Person> {
        let mut tx = self.begin_write().await?;
        let person = scoped_person(&mut tx, actor, id).await?;
        require_writer(actor)?;
        match person.registered_on {
            Some(day) if day == on => return Ok(person),
            Some(day) => return Err(Error::Conflict(format!("registration was already recorded on {day}"))),
            None => {}
        }
        // Conditional, so that of two concurrent registrations (PostgreSQL) only the first writes.
        let updated = sqlx::query("UPDATE persons SET registered_on = $1 WHERE id = $2 AND registered_on IS NULL")
            .bind(on)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::Conflict("registration was recorded meanwhile; read the person again".into()));
        }
        let late = (on - person.registration_due_on).num_days().max(0);
        let data = json!({"registered_on": on, "due_on": person.registration_due_on, "days_late": late});
        let event = NewEvent::new(EventKind::PersonRegistered, &person.county, actor.label(), data).about(id);
        append(&mut tx, &event, at).await?;
        // A late registration ends the missed-registration episode: its length is the sanction's measure.
        end_episode(&mut tx, id, &person.county, AlertKind::MissedRegistration, at, at).await?;
        let person = scoped_person(&mut tx, actor, id).await?;
        tx.commit().await?;
        Ok(person)
    }
}
