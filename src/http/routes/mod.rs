//! Handlers, one file per client-facing concept.

pub mod alerts;
pub mod auth;
pub mod casework;
pub mod checkins;
pub mod clock;
pub mod compat;
pub mod consultations;
pub mod devices;
pub mod me;
pub mod monitoring;
pub mod opinions;
pub mod ops;
pub mod oversight;
pub mod persons;
pub mod track;
pub mod travel;
pub mod webhooks;
pub mod zones;
