//! API tests: one binary, every test run against SQLite and, when `LIANDONG_TEST_POSTGRES_URL`
//! is set, against PostgreSQL (each test in a fresh database or schema).

mod harness;

mod auth;
mod basics;
mod checkins;
mod cli;
mod compat;
mod coverage;
mod crash;
mod devices;
mod monitoring;
mod opinions;
mod oversight;
mod persons;
mod scheduler;
mod stream;
mod summary;
mod supervision;
mod track;
mod travel;
mod webhooks;
mod zones;
