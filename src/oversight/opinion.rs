//! Procuratorial suggestions (检察建议) and correction notices (纠正意见): issued by a procurator on a
//! case, answered in writing by the corrections agency of the person's county by a deadline.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::check_text;
use crate::{Error, Result};

text_enum! {
    pub enum OpinionKind {
        /// 检察建议
        Suggestion = "suggestion",
        /// 纠正意见
        Correction = "correction",
    }
}

text_enum! {
    /// What the opinion is about: the person's case, one alert or one application.
    pub enum Subject {
        Person = "person",
        Alert = "alert",
        Application = "application",
    }
}

text_enum! {
    pub enum ReplyOutcome {
        Adopted = "adopted",
        PartlyAdopted = "partly_adopted",
        /// Reasons are required: the agency must say why.
        NotAdopted = "not_adopted",
    }
}

text_enum! {
    pub enum OpinionStatus {
        /// Not answered, deadline ahead.
        Open = "open",
        /// Not answered, deadline passed.
        Overdue = "overdue",
        Answered = "answered",
    }
}

/// The longest reply deadline a procurator may set.
pub const MAX_REPLY_DAYS: i64 = 92;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpinionRequest {
    pub kind: OpinionKind,
    pub subject: Subject,
    /// The person's, the alert's or the application's id.
    pub subject_id: i64,
    /// The facts found and what the agency should do.
    pub text: String,
    /// When the written reply is due: within 92 days.
    pub reply_due: DateTime<Utc>,
}

impl OpinionRequest {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        check_text("text", &self.text, 5000)?;
        if self.subject_id <= 0 {
            return Err(Error::invalid("subject_id", "must be a positive id"));
        }
        if self.reply_due <= now || self.reply_due > now + Duration::days(MAX_REPLY_DAYS) {
            return Err(Error::invalid("reply_due", format!("must lie in the next {MAX_REPLY_DAYS} days")));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub outcome: ReplyOutcome,
    /// What was done, and the reasons for anything not adopted.
    pub text: String,
}

impl Reply {
    pub fn validate(&self) -> Result<()> {
        check_text("text", &self.text, 5000)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OversightOpinion {
    pub id: i64,
    pub kind: OpinionKind,
    pub person_id: i64,
    pub subject: Subject,
    pub subject_id: i64,
    /// The county whose corrections agency must reply.
    pub county: String,
    pub text: String,
    pub reply_due: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub issued_by: i64,
    pub status: OpinionStatus,
    pub outcome: Option<ReplyOutcome>,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub replied_by: Option<i64>,
    /// Answered after the deadline.
    pub late: bool,
}

impl OversightOpinion {
    pub fn status_at(reply_due: DateTime<Utc>, replied: bool, now: DateTime<Utc>) -> OpinionStatus {
        match (replied, reply_due <= now) {
            (true, _) => OpinionStatus::Answered,
            (false, true) => OpinionStatus::Overdue,
            (false, false) => OpinionStatus::Open,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OpinionFilter {
    pub status: Option<OpinionStatus>,
    pub person_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(days: i64) -> OpinionRequest {
        OpinionRequest {
            kind: OpinionKind::Correction,
            subject: Subject::Person,
            subject_id: 1,
            text: "未按规定给予警告".into(),
            reply_due: "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(days),
        }
    }

    #[test]
    fn the_reply_deadline_lies_ahead_within_three_months() {
        let now = "2026-03-01T00:00:00Z".parse().unwrap();
        assert!(request(1).validate(now).is_ok());
        assert!(request(MAX_REPLY_DAYS).validate(now).is_ok());
        for days in [0, -1, MAX_REPLY_DAYS + 1] {
            let err = request(days).validate(now).unwrap_err();
            assert!(err.to_string().starts_with("reply_due"), "{days}: {err}");
        }
    }

    #[test]
    fn status_follows_the_reply_and_the_deadline() {
        let due: DateTime<Utc> = "2026-03-10T00:00:00Z".parse().unwrap();
        assert_eq!(OversightOpinion::status_at(due, false, due - Duration::seconds(1)), OpinionStatus::Open);
        assert_eq!(OversightOpinion::status_at(due, false, due), OpinionStatus::Overdue);
        assert_eq!(OversightOpinion::status_at(due, true, due + Duration::days(9)), OpinionStatus::Answered);
    }
}
