//! Operators' commands: schema, offices, users and verification of the oversight log.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::auth::{check_username, password, resolve_scope, Role};
use crate::clock::{Clock, SystemClock};
use crate::oversight::verify_log;
use crate::register::Office;
use crate::settings::Settings;
use crate::store::{self, NewUser, Store};
use crate::units::Units;

/// How the oversight log names changes made from the command line.
const CLI_ACTOR: &str = "cli";

#[derive(Subcommand)]
pub enum OfficeCommand {
    /// Add a judicial office of a county.
    Add {
        #[arg(long)]
        id: String,
        /// County-level adcode the office belongs to (e.g. 420102, 江岸区).
        #[arg(long)]
        county: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a staff user; the password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        /// office_officer, county_officer, county_head, city_officer, procurator or admin.
        #[arg(long)]
        role: Role,
        /// An office id (office officers) or an adcode (county, city, jurisdiction).
        #[arg(long)]
        scope: String,
    },
    /// Disable a user: their tokens stop working.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Set a user's password (read from standard input); their earlier tokens stop working.
    Password {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum OversightCommand {
    /// Check every county's hash chain and that no event is missing; name the first broken link.
    Verify,
}

async fn open(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Units)> {
    let store = store::open(&settings.database_url()).await.context("opening the database")?;
    Ok((store, Units::load(settings.units_file.as_deref())?))
}

pub async fn migrate(settings: Settings) -> anyhow::Result<ExitCode> {
    let (store, _) = open(&settings).await?;
    store.close().await;
    println!("database schema is up to date");
    Ok(ExitCode::SUCCESS)
}

pub async fn office(settings: Settings, command: OfficeCommand) -> anyhow::Result<ExitCode> {
    let (store, units) = open(&settings).await?;
    let OfficeCommand::Add { id, county, name } = command;
    let office = Office::new(&id, &county, &name, &units)?;
    let office = store.create_office(&office, CLI_ACTOR, SystemClock.now()).await?;
    println!(
        "office {} ({}) in county {} ({})",
        office.id,
        office.name,
        office.county,
        units.name(&office.county).unwrap_or("")
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<ExitCode> {
    let (store, units) = open(&settings).await?;
    let now = SystemClock.now();
    match command {
        UserCommand::Add { username, role, scope } => {
            check_username(&username)?;
            let office = match role {
                Role::OfficeOfficer => store.office(&scope).await?,
                _ => None,
            };
            let scope = resolve_scope(role, &scope, office.as_ref(), &units)?;
            let password_hash = read_new_password().await?;
            let user = NewUser { username, password_hash, role, scope };
            let account = store.create_user(&user, CLI_ACTOR, now).await?;
            println!(
                "user {} ({}) created: {}, scope {}",
                account.id,
                account.username,
                account.role,
                account.scope.stored()
            );
        }
        UserCommand::Disable { username } => {
            let account = store.disable_user(&username, CLI_ACTOR, now).await?;
            println!(
                "user {} disabled; tokens already issued stop working within {} s",
                account.username, settings.auth.status_cache_seconds
            );
        }
        UserCommand::Password { username } => {
            let account = store.account_by_name(&username).await?.ok_or(crate::Error::NotFound("user"))?;
            let hash = read_new_password().await?;
            store.set_password(account.id, &hash, CLI_ACTOR, now).await?;
            println!("password of {} changed; earlier tokens stop working", account.username);
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Reads a password from standard input: prompted twice without echo on a terminal, one line
/// otherwise (for scripts: `printf '%s\n' "$PASSWORD" | liandong user add …`).
async fn read_new_password() -> anyhow::Result<String> {
    let password = tokio::task::spawn_blocking(|| -> anyhow::Result<String> {
        if std::io::stdin().is_terminal() {
            let first = rpassword::prompt_password("Password: ")?;
            let second = rpassword::prompt_password("Repeat password: ")?;
            anyhow::ensure!(first == second, "the passwords differ");
            Ok(first)
        } else {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
            Ok(line.trim_end_matches(['\n', '\r']).to_owned())
        }
    })
    .await??;
    password::check_new("password", &password)?;
    Ok(tokio::task::spawn_blocking(move || password::hash(&password)).await??)
}

pub async fn oversight(settings: Settings, command: OversightCommand) -> anyhow::Result<ExitCode> {
    let (store, _) = open(&settings).await?;
    let OversightCommand::Verify = command;
    let report = verify_log(store.as_ref(), None).await?;
    store.close().await;
    match &report.first_broken {
        None => {
            println!("oversight log intact: {} events in {} county chains", report.events, report.heads.len());
            for (county, head) in &report.heads {
                println!("  {county} {head}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!("oversight log BROKEN at event {} (county {}): {}", b.seq, b.county, b.reason);
            println!("{} events before it verified", report.events);
            Ok(ExitCode::from(2))
        }
    }
}
