//! The helpers' log lines as a user and the journal see them: `unitsmith: LEVEL: message` on
//! a terminal, `<N>message` when stderr is the journal, and which levels `--quiet`, `-v`,
//! `RUST_LOG` and `SYSTEMD_LOG_LEVEL` let through. Scenarios in tests/e2e grep the journal for
//! these lines: the format is a contract.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("unitsmith-logging-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn unitsmith(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_unitsmith"));
    c.args(args)
        .env_remove("RUST_LOG")
        .env_remove("SYSTEMD_LOG_LEVEL")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    unitsmith(args, env).output().expect("run unitsmith")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `envgate check` on a missing output logs one info line and exits 1.
const CHECK: &[&str] = &["envgate", "check", "--gate", "g", "/nonexistent/o.env"];
const HELD: &str =
    "held by env gate g: /nonexistent/o.env does not exist yet (g.service writes it)";

#[test]
fn terminal_lines_name_the_program_and_the_level() {
    let o = run(CHECK, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("unitsmith: info: {HELD}\n"));
}

#[test]
fn journal_lines_carry_sd_daemon_priorities() {
    let d = tmp("journal");
    let log = d.join("stderr");
    let file = std::fs::File::create(&log).unwrap();
    let m = file.metadata().unwrap();
    let stream = format!("{}:{}", m.dev(), m.ino());
    let status = unitsmith(CHECK, &[("JOURNAL_STREAM", &stream)])
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("<6>{HELD}\n")
    );
    // Inherited by a process whose stderr is elsewhere: plain lines again.
    let o = run(CHECK, &[("JOURNAL_STREAM", &stream)]);
    assert_eq!(stderr(&o), format!("unitsmith: info: {HELD}\n"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn quiet_keeps_errors_only() {
    for q in ["-q", "--quiet"] {
        let mut args = vec![q];
        args.extend_from_slice(CHECK);
        let o = run(
            &args,
            &[("RUST_LOG", "debug"), ("SYSTEMD_LOG_LEVEL", "debug")],
        );
        assert_eq!(o.status.code(), Some(1), "{q}: the exit status still tells");
        assert_eq!(stderr(&o), "", "{q}");
    }
    // An error still gets through.
    let o = run(&["--quiet", "lint", "/nonexistent/x.service"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "unitsmith: error: /nonexistent/x.service: no such file or directory\n"
    );
    let o = run(&["-q", "-v", "lint"], &[]);
    assert_eq!(o.status.code(), Some(2), "-q and -v contradict each other");
}

#[test]
fn debug_lines_from_v_rust_log_or_systemd_log_level() {
    let d = tmp("debug");
    let lock = d.join("l.lock");
    let lock = lock.to_str().unwrap();
    let args = ["lock", "--file", lock, "--", "/bin/true"];
    let debug_line = format!("unitsmith: debug: took {lock}; running /bin/true");
    let with = |extra: &[&str], env: &[(&str, &str)]| {
        let mut a: Vec<&str> = extra.to_vec();
        a.extend_from_slice(&args);
        let o = run(&a, env);
        assert!(o.status.success(), "{a:?} {env:?}: {}", stderr(&o));
        stderr(&o).contains(&debug_line)
    };
    assert!(!with(&[], &[]), "no debug by default");
    assert!(with(&["-v"], &[]));
    assert!(with(&[], &[("RUST_LOG", "debug")]));
    assert!(with(&[], &[("RUST_LOG", "unitsmith::lock=debug")]));
    assert!(!with(&[], &[("RUST_LOG", "unitsmith::reload=debug")]));
    assert!(with(&[], &[("SYSTEMD_LOG_LEVEL", "debug")]));
    assert!(with(&[], &[("SYSTEMD_LOG_LEVEL", "7")]));
    // SYSTEMD_LOG_LEVEL=err silences info, as it does for the generator.
    let o = run(CHECK, &[("SYSTEMD_LOG_LEVEL", "err")]);
    assert_eq!(stderr(&o), "");
    let _ = std::fs::remove_dir_all(&d);
}
