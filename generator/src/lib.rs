//! unitsmith-generator: Quadlet files and env gates in, systemd units out.
//!
//! The binary (`src/bin/unitsmith-generator.rs`) only parses its arguments, arms a
//! [`watchdog`], and calls [`dirs::search_and_scan_until`], [`generate::run`] (with
//! [`output::write_unit`] as its sink) and [`output::settle_links`]; everything else lives here
//! so that the `unitsmith` helpers (doctor, reload, lint) reuse the very same code.
//!
//! Hostile inputs: [`safe_read`] reads only regular files of at most 1 MiB and never blocks;
//! [`unitname`] holds systemd's unit-name rules and [`badname`] reports inputs that break them;
//! [`budget`] bounds a run in time, bytes and inputs; [`trust`] and [`walk`] keep root from
//! acting on what another user could write, file or directory on the way.

pub mod badname;
pub mod budget;
pub mod cmdline;
pub mod compose;
pub mod csv;
pub mod dirs;
pub mod duration;
pub mod envgate;
pub mod generate;
pub mod install;
pub mod log;
pub mod output;
pub mod parallel;
pub mod podman_version;
pub mod quadlet;
pub mod safe_read;
pub mod sources;
pub mod spell;
pub mod split;
pub mod stub;
pub mod trust;
pub mod unitfile;
pub mod unitname;
pub mod walk;
pub mod watchdog;

/// The Podman release whose Quadlet this generator matches (its keys in `quadlet/keys.rs`,
/// its output, the conformance cases). A macro so that it can be part of a literal.
#[macro_export]
macro_rules! quadlet_of_podman {
    () => {
        "5.8.2"
    };
}

/// What `--version` prints after the program name, for the generator and the helpers alike:
/// `0.1.0 (Quadlet of Podman 5.8.2)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (Quadlet of Podman ",
    quadlet_of_podman!(),
    ")"
);

/// The installation prefix, fixed at build time (`make PREFIX=...` exports it).
pub const PREFIX: &str = match option_env!("UNITSMITH_PREFIX") {
    Some(p) => p,
    None => "/usr/local",
};

/// Where the `unitsmith` helper is installed; generated units call it there.
pub fn helper_path() -> String {
    format!("{PREFIX}/bin/unitsmith")
}
