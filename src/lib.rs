//! liandong (联动): community-corrections digital supervision, one live case file shared by the
//! corrections agency and the procuratorate.
//!
//! Rooms by domain concept: `units` (administrative divisions), `auth` (staff, devices, tokens),
//! `register` (offices, persons, registration), `oversight` (the tamper-evident event log).
//! `store` hides the database behind one trait; `http` is a thin layer that parses, authorises and
//! calls the domain; `cli` is the operator's command line.
#![forbid(unsafe_code)]
#![expect(clippy::duplicate_mod, reason = "store/sql/*.rs is compiled once per database backend on purpose")]

pub mod app;
pub mod auth;
pub mod checkin;
pub mod cli;
pub mod clock;
pub mod error;
pub mod geofence;
pub mod http;
pub mod oversight;
pub mod register;
pub mod settings;
pub mod store;
pub mod units;

pub use error::{Error, Result};
