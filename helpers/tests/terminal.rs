//! Terminal manners, as a person at a terminal and a script each see them: colour and the
//! progress line only on a terminal (a pseudo-terminal from util-linux `script`), colour never
//! with NO_COLOR, and `--quiet` printing nothing when all is well.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_unitsmith");

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("unitsmith-term-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("inputs")).unwrap();
        Tmp(d)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// A systemctl stand-in that takes `reload_secs` over daemon-reload and knows no unit.
    fn systemctl(&self, reload_secs: &str) -> PathBuf {
        let p = self.path("systemctl");
        std::fs::write(
            &p,
            format!("#!/bin/sh\n[ \"$1\" = daemon-reload ] && sleep {reload_secs}\nexit 0\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn env(&self, c: &mut Command, reload_secs: &str) {
        c.env("UNITSMITH_SYSTEMCTL", self.systemctl(reload_secs))
            .env("UNITSMITH_STATE_DIR", self.path("state"))
            .env("QUADLET_UNIT_DIRS", self.path("inputs"))
            .env_remove("UNITSMITH_UNIT_DIRS")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("RUST_LOG")
            .env_remove("SYSTEMD_LOG_LEVEL")
            .env("TERM", "xterm")
            .stdin(Stdio::null());
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Run unitsmith ARGS with stdout and stderr on a pseudo-terminal; what the terminal showed.
fn on_terminal(t: &Tmp, reload_secs: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let cmd: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut c = Command::new("script");
    c.args(["-qec", &cmd.join(" "), "/dev/null"]);
    t.env(&mut c, reload_secs);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c
        .output()
        .expect("util-linux script(1) runs the command on a pseudo-terminal");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run unitsmith ARGS with stdout and stderr on pipes, as a script would.
fn piped(t: &Tmp, reload_secs: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    t.env(&mut c, reload_secs);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const WAITING: &str = "reload: waiting for systemctl daemon-reload (1s)";

#[test]
fn reload_shows_what_it_waits_for_on_a_terminal_only() {
    let t = Tmp::new("progress");
    let shown = on_terminal(&t, "1.6", &[], &["reload"]);
    assert!(shown.contains(WAITING), "{shown:?}");
    // Wiped before the report: the summary starts on a clean line.
    let wipe = format!("\r{}\r", " ".repeat(WAITING.len()));
    assert!(
        shown.contains(&format!("{wipe}reload: 0 units checked")),
        "{shown:?}"
    );

    let o = piped(&t, "1.6", &[], &["reload"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("waiting"), "not on a pipe");

    let shown = on_terminal(&t, "1.6", &[], &["--quiet", "reload"]);
    assert!(!shown.contains("waiting"), "not with --quiet: {shown:?}");
    let shown = on_terminal(&t, "0.2", &[], &["reload"]);
    assert!(
        !shown.contains("waiting"),
        "not for a short wait: {shown:?}"
    );
}

#[test]
fn status_words_in_colour_on_a_terminal_without_no_color() {
    let t = Tmp::new("colour");
    std::fs::write(t.path("inputs/typo.container"), "[Container]\nImag=x\n").unwrap();
    let shown = on_terminal(&t, "0", &[], &["doctor"]);
    assert!(shown.contains("typo.service"), "{shown:?}");
    assert!(shown.contains("\x1b[1m\x1b[31merror\x1b[0m"), "{shown:?}");

    let shown = on_terminal(&t, "0", &[("NO_COLOR", "1")], &["doctor"]);
    assert!(
        shown.contains("typo.service") && !shown.contains('\x1b'),
        "{shown:?}"
    );

    let o = piped(&t, "0", &[], &["doctor"]);
    assert!(text(&o.stdout).contains("typo.service"));
    assert!(!text(&o.stdout).contains('\x1b'), "not on a pipe");
}

#[test]
fn quiet_prints_a_report_only_when_something_is_wrong() {
    let t = Tmp::new("quiet");
    let o = piped(&t, "0", &[], &["reload"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).starts_with("reload: 0 units checked"));
    let o = piped(&t, "0", &[], &["--quiet", "reload"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout) + &text(&o.stderr), "");

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lint/cloud-init-cycle");
    let clean = fixtures.join("clean");
    let bad = fixtures.join("bad");
    let o = piped(&t, "0", &[], &["-q", "lint", clean.to_str().unwrap()]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), String::new()));
    let o = piped(&t, "0", &[], &["-q", "lint", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("[cloud-init-cycle]"),
        "the report says what"
    );
    // --json is what a tool asked for: printed whatever --quiet says.
    let o = piped(
        &t,
        "0",
        &[],
        &["-q", "lint", "--json", clean.to_str().unwrap()],
    );
    assert!(text(&o.stdout).starts_with("{\"schema\":1,"));
}
