//! `unitsmith compose`: the steps the units of a Compose project run around `podman run`
//! (the generator writes them; see `man 5 unitsmith.compose` and the generator's
//! `compose/runtime.rs`). Not a command for people: each subcommand is one step of a unit.
//!
//! - `pull`: the image, as `pull_policy` says, within its own time limit;
//! - `volumes`: the service's anonymous volumes and its image's `VOLUME`s, named and created,
//!   for `podman run` (`$UNITSMITH_VOLUMES`);
//! - `env-file`: `env_file:`s read as docker compose reads them, written for `podman run
//!   --env-file` to a file only the unit's user can read;
//! - `config`: a config's `content:` written to the file the container mounts;
//! - `restart-limit`: `restart: on-failure:N`, counting automatic restarts only;
//! - `await`, `release`: a service skipped because a dependency was down starts once it is up.

mod config;
mod deps;
mod env_file;
mod podman;
mod pull;
mod volumes;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
pub struct Args {
    #[command(subcommand)]
    step: Step,
}

#[derive(Subcommand)]
enum Step {
    /// Pull a service's image as its pull_policy says (ExecStartPre=).
    Pull(pull::Args),
    /// Name, create and pass on a service's anonymous volumes and its image's VOLUMEs (ExecStartPre=).
    Volumes(volumes::Args),
    /// Read env_file:s as docker compose does; write them for podman run --env-file (ExecStartPre=).
    EnvFile(env_file::Args),
    /// Write a config's content: for the container to mount (ExecStartPre=).
    Config(config::Args),
    /// Skip the start once the unit restarted itself more than N times (ExecCondition=).
    RestartLimit(deps::RestartLimitArgs),
    /// Skip the start while a dependency is not active, and remember the wait (ExecCondition=).
    Await(deps::AwaitArgs),
    /// Start the units that waited for this one (ExecStartPost= of the dependency).
    Release(deps::ReleaseArgs),
}

pub fn run(args: Args) -> ExitCode {
    let result = match args.step {
        Step::Pull(a) => pull::run(a),
        Step::Volumes(a) => volumes::run(a),
        Step::EnvFile(a) => env_file::run(a),
        Step::Config(a) => config::run(a),
        Step::RestartLimit(a) => deps::restart_limit(a),
        Step::Await(a) => deps::await_units(a),
        Step::Release(a) => deps::release(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The directory of a runtime file, made (mode 0700: it holds env files with secrets) and
/// opened through checked components; and the file's name in it.
fn runtime_dir(
    file: &std::path::Path,
) -> Result<(crate::safepath::Dir, std::ffi::OsString), String> {
    use crate::safepath::{self, Missing, Trust};
    let (dir, name) = safepath::split(file).map_err(|e| e.to_string())?;
    let dir = safepath::open_dir(dir, &Trust::ours(), Missing::Create(0o700))
        .map_err(|e| e.to_string())?;
    Ok((dir, name.to_os_string()))
}
