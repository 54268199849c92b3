//! The steps about other units: `restart-limit` (Docker's `on-failure:N`, counting automatic
//! restarts only), `await` and `release` (a service skipped because its dependency was down is
//! started when the dependency comes up).
//!
//! `restart-limit` reads systemd's own count of automatic restarts, `NRestarts`: systemd adds
//! one for each restart it schedules itself, and starts again from 0 at the next start that
//! does not follow one of its restarts (a manual start, a `systemctl restart`, `unitsmith reload
//! --restart-changed`) and at boot. So only Docker's kind of restart is limited, and a start
//! by hand is never refused (unlike `StartLimitBurst=`, which counts every start).
//!
//! `await` runs as the service's `ExecCondition=`: when a dependency is not active, the start
//! is skipped (not failed) and a marker named after the unit is left in the `--waiting`
//! directory. `release` runs as each dependency's `ExecStartPost=` (so once the dependency is
//! ready: running, healthy or completed): it starts the units listed whose marker is there,
//! without waiting (`--no-block`: their start waits for this one's, which is still running).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::systemctl::{self, Scope};

/// ExecCondition=: exit codes 1..254 skip the start; this one does.
const SKIP: u8 = 1;

#[derive(clap::Args)]
pub struct RestartLimitArgs {
    /// The user's service manager.
    #[arg(long)]
    user: bool,
    /// How many automatic restarts are allowed (on-failure:N).
    limit: u32,
    /// The unit (%n).
    unit: String,
}

#[derive(clap::Args)]
pub struct AwaitArgs {
    /// The user's service manager.
    #[arg(long)]
    user: bool,
    /// The directory of the markers of units waiting for a dependency.
    #[arg(long)]
    waiting: PathBuf,
    /// This unit (%n).
    unit: String,
    /// The dependencies that must be active.
    #[arg(required = true)]
    dependencies: Vec<String>,
}

#[derive(clap::Args)]
pub struct ReleaseArgs {
    /// The user's service manager.
    #[arg(long)]
    user: bool,
    /// The directory of the markers of units waiting for a dependency.
    #[arg(long)]
    waiting: PathBuf,
    /// The units that may be waiting for this one.
    #[arg(required = true)]
    dependents: Vec<String>,
}

fn scope(user: bool) -> Scope {
    if user {
        Scope::User
    } else {
        Scope::System
    }
}

pub fn restart_limit(a: RestartLimitArgs) -> Result<ExitCode, String> {
    let props = systemctl::show(scope(a.user), &a.unit, &["NRestarts"]);
    let Some(n) = props.get("NRestarts").and_then(|n| n.parse::<u64>().ok()) else {
        // Unknown: the start goes on (a limit must never cost a start it cannot judge).
        log::warn!(
            "{}: systemd did not say how often it restarted it; started",
            a.unit
        );
        return Ok(ExitCode::SUCCESS);
    };
    if n <= u64::from(a.limit) {
        return Ok(ExitCode::SUCCESS);
    }
    log::error!(
        "{}: not restarted again: restart: on-failure:{} allows {} automatic restarts, and it failed after each; a start by hand, a restart or a boot starts it afresh",
        a.unit,
        a.limit,
        a.limit
    );
    Ok(ExitCode::from(SKIP))
}

pub fn await_units(a: AwaitArgs) -> Result<ExitCode, String> {
    let mut args = vec!["is-active", "--"];
    args.extend(a.dependencies.iter().map(String::as_str));
    let out = systemctl::run(scope(a.user), &args);
    let states: Vec<&str> = out.stdout.lines().collect();
    let down: Vec<String> = a
        .dependencies
        .iter()
        .enumerate()
        .filter(|(i, _)| states.get(*i).copied() != Some("active"))
        .map(|(i, d)| format!("{d} ({})", states.get(i).copied().unwrap_or("unknown")))
        .collect();
    let marker = a.waiting.join(&a.unit);
    if down.is_empty() {
        let _ = std::fs::remove_file(&marker);
        return Ok(ExitCode::SUCCESS);
    }
    let (dir, name) = super::runtime_dir(&marker)?;
    crate::atomic::write_in(
        &dir,
        &name,
        format!("{}\n", down.join("\n")).as_bytes(),
        0o600,
    )
    .map_err(|e| e.to_string())?;
    log::warn!(
        "{}: not started now: it depends on {}, which is not active; it starts when that comes up",
        a.unit,
        down.join(", ")
    );
    Ok(ExitCode::from(SKIP))
}

pub fn release(a: ReleaseArgs) -> Result<ExitCode, String> {
    for unit in &a.dependents {
        let marker = a.waiting.join(unit);
        if std::fs::remove_file(&marker).is_err() {
            continue; // not waiting
        }
        log::info!("starting {unit}, which was waiting for this unit");
        let out = systemctl::start_no_block(scope(a.user), unit);
        if !out.success {
            log::warn!("{unit}: not started: {}", out.stderr.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}
