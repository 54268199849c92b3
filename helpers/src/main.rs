//! `unitsmith`: small oneshot helpers that unit files call.
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "unitsmith",
    version,
    about = "Helpers for race-free systemd boots and reloads"
)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
