//! Whose events a reader or a receiver gets: the chains of a county, of a city and its counties,
//! or the events about one office's persons.

use serde::Serialize;
use utoipa::ToSchema;

use super::Event;
use crate::auth::{Actor, Role, Scope};
use crate::units::Units;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jurisdiction {
    /// The chains of these adcodes: a county, or a city (its own chain, where events of
    /// city-level staff go) and each of its counties.
    Chains(Vec<String>),
    /// The events about the persons of one office (an office has no chain of its own).
    Office(String),
}

impl Jurisdiction {
    /// What a staff scope sees of the log.
    pub fn of_scope(scope: &Scope, units: &Units) -> Result<Self> {
        match scope {
            Scope::Office { id, .. } => Ok(Jurisdiction::Office(id.clone())),
            Scope::County(c) => Ok(Jurisdiction::Chains(vec![c.clone()])),
            Scope::City(c) => {
                let mut chains = vec![c.clone()];
                chains.extend(units.counties_in(c));
                Ok(Jurisdiction::Chains(chains))
            }
            Scope::Region(_) => Err(Error::Forbidden("administrators do not read case events".into())),
        }
    }

    /// The feed's readers: procurators, each in its jurisdiction (法律监督). Officers read their
    /// cases through the case file and receive events through webhooks.
    pub fn for_reader(actor: &Actor, units: &Units) -> Result<Self> {
        if actor.role != Role::Procurator {
            return Err(Error::Forbidden("the oversight feed is read by procurators".into()));
        }
        Self::of_scope(&actor.scope, units)
    }

    /// Narrows to one county chain, which must lie in the jurisdiction.
    pub fn only(&self, county: &str) -> Result<Self> {
        match self {
            Jurisdiction::Chains(chains) if chains.iter().any(|c| c == county) => {
                Ok(Jurisdiction::Chains(vec![county.to_owned()]))
            }
            _ => Err(Error::Forbidden(format!("county: {county} lies outside your jurisdiction"))),
        }
    }
}

/// A page of the log in one jurisdiction.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogPage {
    pub events: Vec<Event>,
    /// Where the next page starts (`after=next`): the last event returned, or the end of the log
    /// as it was read when the page holds fewer than asked, so events of other jurisdictions are
    /// passed over once.
    pub next: i64,
    /// The last `seq` of the whole log when the page was read.
    pub head: i64,
}
