//! The `liandong` command line: serve (the default), migrate, offices, users, log verification.
//! Secrets are read from standard input or files, never from arguments.

mod admin;
mod geofences;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Settings;

#[derive(Parser)]
#[command(name = "liandong", version, about = "Community-corrections digital supervision service")]
pub struct Cli {
    /// TOML settings file (environment variables LIANDONG_* override it).
    #[arg(long, global = true, env = "LIANDONG_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Judicial offices (司法所).
    #[command(subcommand)]
    Office(admin::OfficeCommand),
    /// Staff users.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// The oversight log.
    #[command(subcommand)]
    Oversight(admin::OversightCommand),
    /// Boundary data: locate positions, describe allowed areas.
    #[command(subcommand)]
    Geofences(geofences::GeofenceCommand),
}

/// Parses the command line, runs the command and turns any failure into a message and exit code.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = async {
        let settings = Settings::load(cli.config.as_deref())?;
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::serve(settings).await,
            Command::Migrate => admin::migrate(settings).await,
            Command::Office(c) => admin::office(settings, c).await,
            Command::User(c) => admin::user(settings, c).await,
            Command::Oversight(c) => admin::oversight(settings, c).await,
            Command::Geofences(c) => geofences::run(settings, c).await,
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liandong: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIANDONG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
