//! liandong (联动): community-corrections digital supervision, one live case file shared by the
//! corrections agency and the procuratorate.
//!
//! Rooms by domain concept: `units` (administrative divisions), `auth` (staff, devices, tokens),
//! `register` (offices, persons, registration), `oversight` (the tamper-evident event log), `checkin` and `supervision` (fixes in,
//! states and alerts out).
//! `store` hides the database behind one trait; `http` is a thin layer that parses, authorises and
//! calls the domain; `cli` is the operator's command line.
#![forbid(unsafe_code)]
#![expect(clippy::duplicate_mod, reason = "store/sql/*.rs is compiled once per database backend on purpose")]

/// A field-less enum whose variants have fixed string forms (stored, logged and sent as JSON).
macro_rules! text_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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
pub mod scheduler;
pub mod settings;
pub mod store;
pub mod supervision;
pub mod travel;
pub mod units;

pub use error::{Error, Result};
