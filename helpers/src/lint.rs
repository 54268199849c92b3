//! `unitsmith lint` (being implemented).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    log::error!("unitsmith lint is not implemented yet");
    ExitCode::from(2)
}
