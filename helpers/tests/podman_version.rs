//! `unitsmith podman-version` and what the generator library makes of its record, through the
//! real binary: a stand-in podman (a script printing `podman version X`) is recorded, then
//! `doctor` and `lint` (the generator's own library) judge Quadlet files by that release, a
//! changed binary makes the record stale, and the JSON has exactly the documented fields.

#[path = "support/json_fields.rs"]
mod json_fields;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("unitsmith-pvcmd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("inputs")).unwrap();
        std::fs::create_dir_all(d.join("generators")).unwrap();
        let sc = d.join("systemctl");
        std::fs::write(&sc, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&sc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = Tmp(d);
        t.podman("4.3.1");
        t
    }

    /// The stand-in podman: prints `podman version VERSION`.
    fn podman(&self, version: &str) {
        let p = self.0.join("podman");
        std::fs::write(&p, format!("#!/bin/sh\necho 'podman version {version}'\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_unitsmith"))
            .args(args)
            .env("PODMAN", self.0.join("podman"))
            .env(
                "UNITSMITH_PODMAN_RECORD",
                self.0.join("state/podman-version"),
            )
            .env_remove("UNITSMITH_PODMAN_VERSION")
            .env("UNITSMITH_SYSTEMCTL", self.0.join("systemctl"))
            .env("UNITSMITH_STATE_DIR", self.0.join("state"))
            .env("UNITSMITH_GENERATOR_DIRS", self.0.join("generators"))
            .env("QUADLET_UNIT_DIRS", self.0.join("inputs"))
            .env_remove("UNITSMITH_UNIT_DIRS")
            .output()
            .expect("run unitsmith")
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn recorded_then_used_by_doctor_and_lint_until_the_binary_changes() {
    let t = Tmp::new("record");
    std::fs::write(
        t.0.join("inputs/web.container"),
        "[Container]\nImage=localhost/x\nHealthLogDestination=/tmp\n",
    )
    .unwrap();

    // Nothing recorded yet: the generator assumes the release it matches, and says podman
    // is another.
    let o = t.run(&["podman-version"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("assumed"), "{}", text(&o));
    assert!(text(&o).contains("--record"), "{}", text(&o));
    let o = t.run(&["doctor", "web.service"]);
    assert!(!text(&o).contains("needs Podman"), "{}", text(&o));

    // Recorded: 4.3.1 from then on.
    let o = t.run(&["podman-version", "--record"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let record = std::fs::read_to_string(t.0.join("state/podman-version")).unwrap();
    let binary = t.0.join("podman").display().to_string();
    assert!(
        record
            .lines()
            .any(|l| l.starts_with("4.3.1 ") && l.ends_with(&binary)),
        "{record}"
    );
    let o = t.run(&["podman-version"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Podman 4.3.1"), "{}", text(&o));

    let needs = "HealthLogDestination needs Podman 5.3.0 or later (for `podman run --health-log-destination`); the Podman here is 4.3.1";
    let o = t.run(&["doctor", "web.service"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(needs), "{}", text(&o));
    assert!(text(&o).contains("web.container:3"), "{}", text(&o));
    let o = t.run(&["lint", &t.0.join("inputs").display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(needs), "{}", text(&o));

    // An upgrade: another binary (another size), the record is stale until recorded again.
    t.podman("4.9.0-rc1");
    let o = t.run(&["podman-version"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("changed since"), "{}", text(&o));
    let o = t.run(&["doctor", "web.service"]);
    assert!(!text(&o).contains("needs Podman"), "{}", text(&o));
    let o = t.run(&["podman-version", "--record", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        json.contains(r#""version":"4.9.0","source":"record""#),
        "{json}"
    );
    assert!(json.contains(r#""recorded":true"#), "{json}");
    json_fields::check_against_page(&json, "unitsmith-podman-version.1", true);
    // One line per binary: the old one replaced.
    let record = std::fs::read_to_string(t.0.join("state/podman-version")).unwrap();
    assert_eq!(
        record.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "{record}"
    );
}

#[test]
fn no_podman_installed_is_not_an_error() {
    let t = Tmp::new("none");
    std::fs::remove_file(t.0.join("podman")).unwrap();
    let o = t.run(&["podman-version", "--record", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(json.contains(r#""installed":null"#), "{json}");
    assert!(json.contains(r#""recorded":false"#), "{json}");
    assert!(!t.0.join("state/podman-version").exists());
}

#[test]
fn a_podman_that_fails_is_reported() {
    let t = Tmp::new("fails");
    let p = t.0.join("podman");
    std::fs::write(
        &p,
        "#!/bin/sh\necho 'cannot read containers.conf' >&2\nexit 125\n",
    )
    .unwrap();
    let o = t.run(&["podman-version", "--record"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--version failed"), "{}", text(&o));
    assert!(!t.0.join("state/podman-version").exists());
}
