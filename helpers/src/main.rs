//! `unitsmith`: small oneshot helpers that unit files call. CLI only: each command lives in
//! its own module with its `Args` and `run`; shared pieces (logging, atomic writes, the
//! systemctl wrapper, durations, signals, retries) have one module each.

mod atomic;
mod child_exit;
mod completions;
mod json;
mod safepath;
// The time-span parser lives in the library: the generator validates `Timeout=` with it too.
use unitsmith_generator::duration;
mod logging;
mod progress;
mod retry;
mod signals;
mod systemctl;
mod term;
mod walk;

mod doctor;
mod envgate;
mod lint;
mod lock;
mod reconcile;
mod reload;
mod takeover;

#[cfg(test)]
mod manpages;
#[cfg(test)]
mod readme;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "unitsmith",
    version = unitsmith_generator::VERSION,
    about = "Helpers for race-free systemd boots and reloads"
)]
struct Cli {
    /// Log debug messages too.
    ///
    /// As SYSTEMD_LOG_LEVEL=debug or RUST_LOG=debug do.
    // After each command's own options, in its --help and man page.
    #[arg(short, long, global = true, display_order = 100)]
    verbose: bool,
    /// Print errors only (for scripts: the exit status tells the rest).
    ///
    /// No report when the command succeeds (a failing one still prints its report, which says
    /// what failed), no progress line, no log message below error. --json output is printed
    /// regardless.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        display_order = 101
    )]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Env gates: write a service's env file now (stub or real), finish it when the file lands.
    Envgate(envgate::Args),
    /// daemon-reload, check every unit is loaded, then restart: one race-free step.
    Reload(reload::Args),
    /// Explain why a unit is missing, failed or not what its input says.
    Doctor(doctor::Args),
    /// Run a command holding a kernel lock that dies with it (singleton daemons).
    Lock(lock::Args),
    /// Repair lost or failed units that the generator produced.
    Reconcile(reconcile::Args),
    /// Find the boot and reload hazards in unit files.
    Lint(lint::Args),
    /// Make unitsmith the Quadlet generator where Podman's is installed (--undo: hand back).
    Takeover(takeover::Args),
    /// Print the completion script for SHELL (what `make install` and the package install).
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(match (cli.quiet, cli.verbose) {
        (true, _) => logging::Verbosity::Quiet,
        (_, true) => logging::Verbosity::Verbose,
        _ => logging::Verbosity::Normal,
    });
    term::init(cli.quiet);
    // The commands that wait end their waits on SIGTERM and stop cleanly; the others keep the
    // default action, so SIGTERM ends them at once (see `signals`).
    if matches!(
        cli.command,
        Command::Envgate(_) | Command::Reload(_) | Command::Lock(_) | Command::Reconcile(_)
    ) {
        signals::install();
    }
    match cli.command {
        Command::Envgate(a) => envgate::run(a),
        Command::Reload(a) => reload::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Lock(a) => lock::run(a),
        Command::Reconcile(a) => reconcile::run(a),
        Command::Lint(a) => lint::run(a),
        Command::Takeover(a) => takeover::run(a),
        Command::Completions { shell } => completions::run(shell, Cli::command()),
    }
}
