//! Failure stubs: the unit an input becomes when it cannot be generated.
//!
//! The stub keeps the unit name the operator expects, so `systemctl start NAME` finds it and
//! fails with the error in the journal instead of "Unit NAME not found". Tools read the error
//! from the `[X-Unitsmith]` section.

use std::path::Path;

use crate::split;
use crate::unitfile::UnitFile;

pub const GROUP: &str = "X-Unitsmith";

/// Build a stub named `service_filename` for `source`, failing with `error` (may span lines).
/// `install` is the source's `[Install]` section, when the file could be parsed, so the stub
/// is pulled in wherever the real unit would have been.
pub fn failure_stub(
    service_filename: &str,
    source: &Path,
    error: &str,
    install: Option<&UnitFile>,
) -> UnitFile {
    let mut stub = UnitFile::new(service_filename);
    let first_line = error.lines().next().unwrap_or("unknown error");
    stub.add(
        "Unit",
        "Description",
        &format!(
            "unitsmith: cannot generate {service_filename}: {}",
            specifier_safe(first_line)
        ),
    );
    stub.add("Unit", "SourcePath", &source.to_string_lossy());
    stub.add("Service", "Type", "oneshot");
    // The message goes to the journal through the environment, so no shell parses it.
    let env = format!("UNITSMITH_ERROR={}", specifier_safe(error));
    stub.add("Service", "Environment", &split::escape_word(&env));
    stub.add(
        "Service",
        "ExecStart",
        "/bin/sh -c 'printf \"%%s\\\\n\" \"$$UNITSMITH_ERROR\" >&2; exit 1'",
    );
    stub.add("Service", "SyslogIdentifier", "%N");
    if let Some(unit) = install {
        for key in [
            "WantedBy",
            "RequiredBy",
            "UpheldBy",
            "Alias",
            "DefaultInstance",
            "Also",
        ] {
            for v in unit.lookup_all("Install", key) {
                stub.add("Install", key, v);
            }
        }
    }
    stub.add(GROUP, "Source", &source.to_string_lossy());
    for line in error.lines().filter(|l| !l.trim().is_empty()) {
        stub.add(GROUP, "Error", line.trim_end_matches('\\'));
    }
    stub
}

/// systemd expands `%` specifiers in most values: double them so the text stays literal.
fn specifier_safe(s: &str) -> String {
    s.replace('%', "%%")
}

/// The error a stub carries, when `unit` is one.
pub fn stub_error(unit: &UnitFile) -> Option<String> {
    let errs = unit.lookup_all(GROUP, "Error");
    if errs.is_empty() {
        None
    } else {
        Some(errs.join("\n"))
    }
}
