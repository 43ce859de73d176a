//! Travel (外出) and regular cross-city activity (经常性跨市县活动): the rules that route an
//! application to the level that decides it (domain.md §3 "Dates and days", "Trips", "Regular
//! cross-city activity"; pure functions over dates, tested line by line), the applications built
//! on them, and the optional steps before a decision (consultation, hearing).

mod application;
mod rules;
mod steps;

pub use application::{
    level_of, Application, ApplicationFilter, ApplicationRequest, ApplicationStatus, Decision, ExtensionRequest,
    NewApplication, ReasonCategory, TravelKind, TripReport,
};
pub use rules::{
    cumulative_days, local_today, route_extension, route_regular, route_trip, trip_days, Level, OtherTrip, Routing,
    Warning,
};
pub use steps::{Consultation, ConsultationRequest, Hearing, HearingOutcome, HearingRequest, Opinion, Stance};
