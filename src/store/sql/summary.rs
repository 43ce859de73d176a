//! The oversight summary: the questions a procurator asks every Monday, counted in the store
//! under the caller's scope.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::common::{push_scope, require_reader};
use super::{Backend, Db};
use crate::auth::Actor;
use crate::oversight::{AgeBuckets, Approvals, Summary};
use crate::store::SummaryStore;
use crate::Result;

#[async_trait]
impl SummaryStore for Backend {
    async fn summary(&self, actor: &Actor, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Summary> {
        require_reader(actor)?;
        let mut q = QueryBuilder::<Db>::new("SELECT a.kind, a.opened_at, a.status = 'open' AND a.ack_due_at < ");
        q.push_bind(now).push(" FROM alerts a JOIN persons p ON p.id = a.person_id WHERE a.status <> 'resolved'");
        push_scope(&mut q, actor)?;
        let open: Vec<(String, DateTime<Utc>, bool)> = q.build_query_as().fetch_all(&self.read).await?;
        let mut open_alerts = AgeBuckets::default();
        let mut by_kind = BTreeMap::new();
        for (kind, opened_at, _) in &open {
            open_alerts.add(now - *opened_at);
            *by_kind.entry(kind.clone()).or_insert(0) += 1;
        }

        let mut q = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM alerts a JOIN persons p ON p.id = a.person_id \
             WHERE a.acknowledged_at > a.ack_due_at AND a.raised_at >= ",
        );
        q.push_bind(since);
        push_scope(&mut q, actor)?;
        let acknowledged_late: i64 = q.build_query_scalar().fetch_one(&self.read).await?;

        let mut q = QueryBuilder::<Db>::new(
            "SELECT t.decided_by, t.status, EXISTS (SELECT 1 FROM consultations c \
             WHERE c.application_id = t.id AND c.stance = 'oppose') FROM travel_applications t \
             JOIN persons p ON p.id = t.person_id WHERE t.status IN ('approved', 'rejected') AND t.decided_at >= ",
        );
        q.push_bind(since);
        push_scope(&mut q, actor)?;
        let decided: Vec<(String, String, bool)> = q.build_query_as().fetch_all(&self.read).await?;
        let mut approvals_by_level: BTreeMap<String, Approvals> = BTreeMap::new();
        for (level, status, opposed) in decided {
            let entry = approvals_by_level.entry(level).or_default();
            if status == "approved" {
                entry.approved += 1;
                entry.against_opinion += i64::from(opposed);
            } else {
                entry.rejected += 1;
            }
        }

        let mut q = QueryBuilder::<Db>::new(
            "SELECT c.deadline FROM consultations c \
             JOIN travel_applications t ON t.id = c.application_id JOIN persons p ON p.id = t.person_id \
             WHERE c.answered_at IS NULL AND t.status = 'pending'",
        );
        push_scope(&mut q, actor)?;
        let consultations: Vec<DateTime<Utc>> = q.build_query_scalar().fetch_all(&self.read).await?;

        let mut q = QueryBuilder::<Db>::new(
            "SELECT o.reply_due FROM opinions o JOIN persons p ON p.id = o.person_id WHERE o.replied_at IS NULL",
        );
        push_scope(&mut q, actor)?;
        let opinions: Vec<DateTime<Utc>> = q.build_query_scalar().fetch_all(&self.read).await?;

        Ok(Summary {
            scope: actor.scope.stored().to_owned(),
            at: now,
            since,
            unacknowledged_past_deadline: open.iter().filter(|(_, _, missed)| *missed).count() as i64,
            open_alerts,
            open_alerts_by_kind: by_kind,
            acknowledged_late,
            approvals_by_level,
            consultations_pending: consultations.len() as i64,
            consultations_overdue: consultations.iter().filter(|d| **d < now).count() as i64,
            opinions_unanswered: opinions.len() as i64,
            opinions_overdue: opinions.iter().filter(|d| **d <= now).count() as i64,
        })
    }
}
