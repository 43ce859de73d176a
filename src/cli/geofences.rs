//! `liandong geofences …`: operators' tools over the boundary data, and what benchmarks drive.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use crate::geofence::{Crs, Geofences};
use crate::settings::Settings;
use crate::units::Units;

#[derive(Subcommand)]
pub enum GeofenceCommand {
    /// Read `lon,lat` lines on stdin; write `adcode,name` per line (both empty outside China, an
    /// error message after `#` for a line that is not a position).
    Locate {
        /// Frame of the input positions.
        #[arg(long, default_value = "wgs84", value_parser = parse_crs)]
        crs: Crs,
    },
    /// Print the allowed area of a resident of ADCODE: its units and its size.
    Info { adcode: String },
}

fn parse_crs(s: &str) -> Result<Crs, String> {
    s.parse().map_err(|e: crate::Error| e.to_string())
}

pub async fn run(settings: Settings, command: GeofenceCommand) -> anyhow::Result<ExitCode> {
    let units = Arc::new(Units::load(settings.units_file.as_deref())?);
    let started = std::time::Instant::now();
    let engine = Geofences::bundled(units.clone())?;
    let load_ms = started.elapsed().as_millis() as u64;
    tracing::info!(counties = engine.len(), load_ms, resident_mb = resident_mb().unwrap_or(0), "boundaries loaded");
    match command {
        GeofenceCommand::Locate { crs } => locate(&engine, crs),
        GeofenceCommand::Info { adcode } => info(&engine, &units, &adcode),
    }
}

fn locate(engine: &Geofences, crs: Crs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let started = std::time::Instant::now();
    let mut count = 0u64;
    for line in stdin.lines() {
        let line = line?;
        count += 1;
        match parse_position(&line) {
            Ok((lon, lat)) => {
                let (lon, lat) = crs.to_wgs84(lon, lat);
                match engine.locate(lon, lat) {
                    Some(id) => {
                        let county = engine.county(id);
                        writeln!(out, "{},{}", county.adcode, county.name)?;
                    }
                    None => writeln!(out, ",")?,
                }
            }
            Err(problem) => writeln!(out, ",#{problem}")?,
        }
    }
    out.flush()?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(fixes = count, seconds = secs, per_second = (count as f64 / secs) as u64, "located");
    Ok(ExitCode::SUCCESS)
}

/// Resident memory of this process, where the system tells (Linux).
fn resident_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn parse_position(line: &str) -> Result<(f64, f64), String> {
    let (lon, lat) = line.split_once(',').ok_or("expected lon,lat")?;
    let lon: f64 = lon.trim().parse().map_err(|_| "lon: not a number")?;
    let lat: f64 = lat.trim().parse().map_err(|_| "lat: not a number")?;
    crate::geofence::crs::check_position(lon, lat).map_err(|e| e.to_string())?;
    Ok((lon, lat))
}

fn info(engine: &Geofences, units: &Units, adcode: &str) -> anyhow::Result<ExitCode> {
    let area = engine.allowed_area(adcode)?;
    let name = units.name(adcode).unwrap_or("?");
    let total: f64 = area.members.iter().map(|&m| engine.county_km2(m)).sum();
    println!("allowed area of a resident of {adcode} {name}: {} units, {total:.0} km²", area.members.len());
    for &m in &area.members {
        let county = engine.county(m);
        println!("  {} {} {:.1} km²", county.adcode, county.name, engine.county_km2(m));
    }
    println!("outer boundary: {} edges", area.outer_edges());
    Ok(ExitCode::SUCCESS)
}
