//! The optional steps before a decision: consultation with the procuratorate (会商) and a
//! hearing (听证会). Both stay attached to the application, visible to both agencies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::check_text;
use crate::{Error, Result};

text_enum! {
    /// The procuratorate's opinion.
    pub enum Stance {
        Support = "support",
        Oppose = "oppose",
        /// Supports on conditions, stated in the text.
        Conditional = "conditional",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultationRequest {
    pub question: String,
    /// When the opinion is due (within 30 days).
    pub deadline: DateTime<Utc>,
}

impl ConsultationRequest {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        check_text("question", &self.question, 1000)?;
        if self.deadline <= now || self.deadline > now + chrono::Duration::days(30) {
            return Err(Error::invalid("deadline", "must lie in the next 30 days"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Opinion {
    pub stance: Stance,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consultation {
    pub id: i64,
    pub application_id: i64,
    pub question: String,
    pub deadline: DateTime<Utc>,
    pub asked_at: DateTime<Utc>,
    pub asked_by: i64,
    pub stance: Option<Stance>,
    pub opinion: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<i64>,
    /// Unanswered past its deadline: visible to both sides.
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HearingRequest {
    pub at: DateTime<Utc>,
    pub place: String,
    /// Who takes part (names and roles), the procuratorate included.
    pub participants: Vec<String>,
}

impl HearingRequest {
    pub fn validate(&self) -> Result<()> {
        check_text("place", &self.place, 200)?;
        if self.participants.is_empty() || self.participants.len() > 30 {
            return Err(Error::invalid("participants", "must name 1–30 participants"));
        }
        for p in &self.participants {
            check_text("participants", p, 100)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HearingOutcome {
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hearing {
    pub id: i64,
    pub application_id: i64,
    pub scheduled_at: DateTime<Utc>,
    pub place: String,
    pub participants: Vec<String>,
    pub outcome: Option<String>,
    pub recorded_at: Option<DateTime<Utc>>,
}
