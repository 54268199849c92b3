//! Distributions' own unit sets, linted by their own systemd, give no finding of a line
//! systemd ignores or a unit it refuses: what the distribution ships is what its systemd
//! accepts, so any such finding is lint's mistake (issue 16: 45 false unknown-key on Debian
//! testing's units when lint only knew systemd 257's keys).
//!
//! The unit sets are root filesystems installed from the distributions' packages, not
//! copies in this repository: `UNITSMITH_LINT_DISTRO_ROOTS` (colon-separated), else the e2e
//! harness's guest roots (`/var/cache/unitsmith-e2e/*/rootfs`, debootstrapped from the
//! packages by `tests/e2e/run.sh`). Each is linted with `--root`, so the version judged by
//! is the one installed there. With none on this machine the test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

const E2E_CACHE: &str = "/var/cache/unitsmith-e2e";

/// Rules whose findings mean "systemd ignores this line" or "systemd refuses this unit".
const MUST_NOT_FIND: &[&str] = &[
    "unknown-key",
    "unknown-section",
    "bad-value",
    "service-refused",
];

fn distro_roots() -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os("UNITSMITH_LINT_DISTRO_ROOTS").filter(|v| !v.is_empty()) {
        let roots: Vec<PathBuf> = std::env::split_paths(&v).collect();
        for r in &roots {
            assert!(
                r.join("usr/lib/systemd/system").is_dir(),
                "{}: no unit set",
                r.display()
            );
        }
        return roots;
    }
    let mut roots: Vec<PathBuf> = std::fs::read_dir(E2E_CACHE)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("rootfs"))
                .filter(|r| r.join("usr/lib/systemd/system").is_dir())
                .collect()
        })
        .unwrap_or_default();
    roots.sort();
    roots
}

/// The release in the root's libsystemd-shared-N.so, found independently of lint.
fn installed_release(root: &Path) -> Option<u32> {
    let out = Command::new("find")
        .arg(root.join("usr/lib"))
        .args(["-maxdepth", "3", "-name", "libsystemd-shared-*.so"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let name = text.lines().next()?.rsplit('/').next()?.to_string();
    let digits: String = name
        .trim_start_matches("libsystemd-shared-")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn each_distributions_units_pass_its_own_systemd() {
    let roots = distro_roots();
    if roots.is_empty() {
        eprintln!(
            "SKIPPED: no distribution root filesystem here (run tests/e2e/run.sh once, or set \
             UNITSMITH_LINT_DISTRO_ROOTS=DIR:...); tests/e2e/scenarios/72-lint-distro-units.sh \
             checks the same inside the e2e guests"
        );
        return;
    }
    let mut failures = Vec::new();
    for root in roots {
        let release = installed_release(&root).expect("a libsystemd-shared-N.so in the root");
        let out = Command::new(env!("CARGO_BIN_EXE_unitsmith"))
            .args(["lint", "--json", "--root"])
            .arg(&root)
            .arg("/usr/lib/systemd/system")
            .output()
            .expect("run unitsmith");
        let json = String::from_utf8_lossy(&out.stdout);
        let judged = format!(r#""systemd":{{"judged_by":{release},"found":{release},"#);
        if !json.contains(&judged) {
            failures.push(format!(
                "{}: not judged by systemd {release}: {json}",
                root.display()
            ));
        }
        let units: usize = json
            .strip_prefix(r#"{"schema":1,"units":"#)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let wrong: Vec<&str> = json
            .split(r#"{"rule":"#)
            .skip(1)
            .filter(|f| {
                MUST_NOT_FIND
                    .iter()
                    .any(|r| f.starts_with(&format!("\"{r}\"")))
            })
            .collect();
        eprintln!(
            "{}: systemd {release}, {units} units, {} false findings",
            root.display(),
            wrong.len()
        );
        assert!(units > 100, "{}: only {units} units read", root.display());
        if !wrong.is_empty() {
            failures.push(format!("{}: {}", root.display(), wrong.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
