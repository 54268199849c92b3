//! Every command's `--json`, as the binary prints it: one line of JSON, `"schema":1` first,
//! and only fields its man page documents under JSON OUTPUT (lint's fixture fills every field,
//! so there the set must be exact; the unit tests beside each command check the exact set of
//! the others with samples that fill every list). systemctl is a stand-in that knows no unit.

#[path = "support/json_fields.rs"]
mod json_fields;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use json_fields::check_against_page;

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("unitsmith-json-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("inputs")).unwrap();
        std::fs::create_dir_all(d.join("generators")).unwrap();
        let sc = d.join("systemctl");
        std::fs::write(&sc, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sc, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A failure stub with an [Install] link, and a misspelt extension.
        std::fs::write(
            d.join("inputs/typo.container"),
            "[Container]\nImag=x\n[Install]\nWantedBy=multi-user.target\n",
        )
        .unwrap();
        std::fs::write(d.join("inputs/web.conatiner"), "[Container]\nImage=x\n").unwrap();
        Tmp(d)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_unitsmith"))
            .args(args)
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn lint_json_has_exactly_the_documented_fields() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lint/cloud-init-cycle/bad");
    let o = Command::new(env!("CARGO_BIN_EXE_unitsmith"))
        .args(["lint", "--json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    check_against_page(&stdout(&o), "unitsmith-lint.1", true);
}

#[test]
fn doctor_json_fields_are_documented() {
    let t = Tmp::new("doctor");
    let o = t.run(&["doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let json = stdout(&o);
    assert!(json.contains(r#""kind":"stub""#) && json.contains(r#""kind":"not-an-input""#));
    check_against_page(&json, "unitsmith-doctor.1", false);
}

#[test]
fn reload_json_fields_are_documented() {
    let t = Tmp::new("reload");
    let o = t.run(&["reload", "--json", "--timeout", "50ms"]);
    assert_eq!(o.status.code(), Some(1));
    let json = stdout(&o);
    assert!(json.contains(r#""unit":"typo.service""#), "{json}");
    check_against_page(&json, "unitsmith-reload.1", false);
}

/// A unit the last reload left running whose input is gone: listed in `units` (change
/// "removed") and by name in `removed`, with only documented fields.
#[test]
fn reload_json_lists_removed_units() {
    let t = Tmp::new("reload-removed");
    std::fs::create_dir_all(t.0.join("state")).unwrap();
    std::fs::write(
        t.0.join("state/reload.state"),
        "# unitsmith reload state v1: digest of the generated content each unit was last (re)started with\n0123456789abcdef gone.service\n",
    )
    .unwrap();
    let o = t.run(&["reload", "--restart-changed", "--json", "--timeout", "50ms"]);
    let json = stdout(&o);
    assert!(
        json.contains(r#""unit":"gone.service","source":null,"change":"removed""#),
        "{json}"
    );
    assert!(json.contains(r#""removed":["gone.service"]"#), "{json}");
    check_against_page(&json, "unitsmith-reload.1", false);
}

#[test]
fn reconcile_json_fields_are_documented() {
    let t = Tmp::new("reconcile");
    let o = t.run(&["reconcile", "--json", "--dry-run"]);
    let json = stdout(&o);
    assert!(json.contains(r#""unit":"typo.service""#), "{json}");
    check_against_page(&json, "unitsmith-reconcile.1", false);
}

#[test]
fn takeover_json_fields_are_documented() {
    let t = Tmp::new("takeover");
    let image = t.0.join("image");
    let gen = image.join("usr/lib/systemd/system-generators");
    std::fs::create_dir_all(&gen).unwrap();
    std::fs::write(gen.join("unitsmith-generator"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        gen.join("unitsmith-generator"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let o = t.run(&["takeover", "--json", "--root", image.to_str().unwrap()]);
    let json = stdout(&o);
    assert!(json.contains(r#""action":"takeover""#), "{json}");
    check_against_page(&json, "unitsmith-takeover.1", false);
}
