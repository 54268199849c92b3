//! `.envgate` declarations → a fast populate unit, a detached wait unit, consumer drop-ins.
//!
//! An env gate lets a service (the *consumer*) depend on a file that appears late (cloud-init
//! writes it, sometimes minutes after `multi-user.target`) without ever holding up the boot:
//!
//! - `NAME.service` (oneshot, `RemainAfterExit=yes`, ordered before the consumers) runs
//!   `unitsmith envgate populate`: it writes the real env file when the awaited file is already
//!   there, otherwise a stub, and starts the wait unit without waiting for it. Milliseconds.
//! - `NAME-wait.service` (wanted by nothing, so no target waits for it) runs `unitsmith envgate
//!   wait`: it watches for the file, writes the real env file, then `reset-failed` + `restart`s
//!   every consumer. It gives up at `Timeout=`.
//! - `CONSUMER.d/50-unitsmith-envgate-NAME.conf` orders each consumer after the gate, and (with
//!   `HoldConsumers=yes`, the default) holds it with an `ExecCondition=` while the env file is
//!   the stub: the consumer is skipped, not failed, so a `Restart=always` consumer neither loops
//!   nor burns its start limit while the gate is closed.
//!
//! The declaration is parsed by [`decl::parse`], used by the generator and by the helper (which
//! re-reads the declaration with its drop-ins at run time): one parser for both sides.

pub mod decl;
mod units;

pub use decl::{parse, Decl};

use crate::quadlet::ConvertError;
use crate::unitfile::UnitFile;

/// The units one declaration produces. Each `UnitFile::filename` is its path relative to the
/// generator's output directory (`NAME.service`, `NAME-wait.service`,
/// `CONSUMER.d/50-unitsmith-envgate-NAME.conf`). `helper` is the `unitsmith` binary's path.
pub fn convert(unit: &UnitFile, helper: &str) -> Result<Vec<UnitFile>, ConvertError> {
    let decl = decl::parse(unit)?;
    Ok(units::units(&decl, unit, helper))
}

/// The service a declaration is known by: `NAME.service` for `NAME.envgate`.
pub fn service_name(filename: &str) -> String {
    format!("{}.service", filename.trim_end_matches(".envgate"))
}

/// Its wait unit, `NAME-wait.service`: started by the gate when needed, never by a reload.
pub fn wait_service_name(filename: &str) -> String {
    format!("{}-wait.service", filename.trim_end_matches(".envgate"))
}

/// The longest gate name: each consumer gets `CONSUMER.d/50-unitsmith-envgate-NAME.conf`,
/// and a file name is at most 255 bytes.
pub const MAX_NAME_LEN: usize =
    crate::unitname::MAX_LEN - "50-unitsmith-envgate-".len() - ".conf".len();

/// When the gate's name is valid for `NAME.service` but too long for the files made with it
/// (`NAME-wait.service`, the consumers' drop-ins): the problem and the longest such name.
pub fn name_problem(filename: &str) -> Option<(crate::unitname::Problem, String)> {
    let name = filename.strip_suffix(".envgate").unwrap_or(filename);
    (name.len() > MAX_NAME_LEN).then(|| {
        let long = format!("50-unitsmith-envgate-{name}.conf");
        (crate::unitname::Problem::TooLong(long.len()), long)
    })
}

/// `file:line: [Group] Key: message` (and the hint on its own line), for the helper, which
/// reports a declaration that no longer parses at run time.
pub fn describe_error(unit: &UnitFile, e: &ConvertError) -> String {
    crate::generate::locate_error(unit, e)
}
